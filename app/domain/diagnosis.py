"""Words for the run and compare pages: what the pseudo-label diagnostics say about a run's or a
group's unlabeled signal.

A thresholding method (FixMatch, FlexMatch) learns from unlabeled images only through the
pseudo-labels its mask lets in, so the mask ratio and the pseudo-label accuracy explain most weak
results: a mask near 0 leaves a labels-only run, a mask near 1 with wrong pseudo-labels trains on
the model's own mistakes. FlexMatch's thresholds additionally stay below τ while the share of
never-selected images (``train/unseen_ratio``) outweighs every class: its warm-up. And a method
whose model stops predicting a class admits that class's images under other labels, so its
unlabeled loss confirms the collapse: ``train/pseudo_label_share/<class>`` at the last epoch shows
which class (docs/STUDY_fashion_mnist_40.md, "FixMatch: which pseudo-labels are wrong").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from ssl_core.contract import catalog, horizons, metrics
from ssl_core.contract.validation import validation_size

# Mean mask ratio at or above which "everything" is pseudo-labelled, and at or below which almost
# nothing is; pseudo-label accuracy below which "everything" is a problem rather than a success.
ALL_USED = 0.95
NONE_USED = 0.05
POOR_PSEUDO_LABELS = 80.0
# A class is rarely named when it gets less than this fraction of the uniform share 1/K of the
# admitted pseudo-labels, once the last epoch's mask ratio is above COLLAPSE_MIN_MASK (below it,
# a few admitted images make the shares noise).
RARE_CLASS = 0.25
COLLAPSE_MIN_MASK = 0.1


def _values(series: dict[str, dict[str, list]], key: str) -> list[float]:
    return [v for v in series.get(key, {}).get("value", []) if v is not None]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@dataclass(frozen=True)
class Signal:
    """What the notes read of one run: means over its epochs, and its last epoch's values."""

    mask: float | None = None  # mean mask ratio over the epochs
    accuracy: float | None = None  # mean pseudo-label accuracy over the epochs
    epochs: int = 0  # epochs with a mask ratio
    unseen: float | None = None  # train/unseen_ratio at the last epoch
    highest_threshold: float | None = None  # the highest class threshold at the last epoch
    last_mask: float | None = None  # the mask ratio at the last epoch
    shares: tuple[float, ...] = ()  # each class's pseudo-label share at the last epoch


def signal_of(series: dict[str, dict[str, list]]) -> Signal:
    """The ``Signal`` of a run's series (``{key: {"value": [...]}}``)."""
    masks = _values(series, metrics.MASK_RATIO)
    accuracy = _values(series, metrics.PSEUDO_LABEL_ACC)
    last = {key: values[-1] for key in series if (values := _values(series, key))}
    return replace(
        last_signal(last),
        mask=_mean(masks) if masks else None,
        accuracy=_mean(accuracy) if accuracy else None,
        epochs=len(masks),
    )


def last_signal(last: dict[str, float]) -> Signal:
    """The last-epoch part of a ``Signal``, from each key's value at its last epoch (what
    ``last_epoch_keys`` names; a compare reads only these, not the series)."""
    highest = [v for k, v in last.items() if k.startswith(metrics.CLASS_THRESHOLD_PREFIX)]
    prefix = metrics.PSEUDO_LABEL_SHARE_PREFIX
    shares = sorted((int(k[len(prefix) :]), v) for k, v in last.items() if k.startswith(prefix))
    return Signal(
        unseen=last.get(metrics.UNSEEN_RATIO),
        highest_threshold=max(highest) if highest else None,
        last_mask=last.get(metrics.MASK_RATIO),
        shares=tuple(v for _, v in shares),
    )


def _warmup(signal: Signal, threshold: float) -> tuple[float, float] | None:
    """FlexMatch's warm-up at its last epoch: (never-selected share, highest class threshold)
    when every class threshold is still below τ, else None."""
    unseen, highest = signal.unseen, signal.highest_threshold
    if unseen is None or highest is None or highest >= threshold * (1 - 1e-6):
        return None
    return unseen, highest


def warmup_note(series: dict[str, dict[str, list]], threshold: float) -> str | None:
    """FlexMatch's warm-up, from its last epoch: every class threshold still below τ."""
    found = _warmup(signal_of(series), threshold)
    if found is None:
        return None
    unseen, highest = found
    return (
        f"Thresholds are still in warm-up: {unseen:.0%} of the unlabeled images have never "
        f"been predicted with confidence ≥ τ = {threshold:g}, more than any class has been, so "
        f"every class threshold is below τ (the highest is {highest:.2f}) and FlexMatch "
        "uses nearly every pseudo-label."
    )


def _mask(signal: Signal) -> tuple[str, float, float | None, int] | None:
    """("all", mask, accuracy, epochs) when nearly everything is pseudo-labelled with poor
    labels, ("none", mask, accuracy, epochs) when almost nothing passes the threshold, else
    None; mask and accuracy are means over the epochs so far."""
    mask, acc = signal.mask, signal.accuracy
    if mask is None:
        return None
    if mask >= ALL_USED and acc is not None and acc < POOR_PSEUDO_LABELS:
        return "all", mask, acc, signal.epochs
    if mask <= NONE_USED:
        return "none", mask, acc, signal.epochs
    return None


def mask_note(series: dict[str, dict[str, list]]) -> str | None:
    """A thresholding method's unlabeled signal over the epochs so far, when it explains a weak
    result: pseudo-labelling everything with poor labels, or almost no unlabeled signal."""
    found = _mask(signal_of(series))
    if found is None:
        return None
    kind, mask, acc, epochs = found
    over = f"on average over {epochs} epoch{'s' if epochs > 1 else ''}"
    if kind == "all":
        return (
            f"Pseudo-labelling everything: {mask:.0%} of the unlabeled images enter the loss "
            f"({over}) with pseudo-labels only {acc:.0f} % correct, so the "
            "unlabeled loss also teaches the model its own mistakes."
        )
    return (
        f"Almost no unlabeled signal: only {mask:.1%} of the unlabeled images pass the "
        f"threshold ({over}), so this run learns nearly as labels-only would."
    )


def _percent(share: float) -> str:
    return f"{100 * share:.2g} %"


def _rare_classes(signal: Signal) -> list[tuple[int, float]]:
    """(class, share) of each class the last epoch's admitted pseudo-labels rarely named, when
    the mask admitted enough for the shares to mean something; else empty."""
    shares, mask = signal.shares, signal.last_mask
    if not shares or not sum(shares) or mask is None or mask <= COLLAPSE_MIN_MASK:
        return []
    rare = RARE_CLASS / len(shares)
    return [(c, share) for c, share in enumerate(shares) if share < rare]


def class_names(specs: list[dict[str, Any]]) -> tuple[str, ...]:
    """The class names of the runs' dataset when they share one that names its classes
    (``DatasetEntry.class_names``), else () and notes name classes by index."""
    datasets = {spec.get("dataset") for spec in specs}
    if len(datasets) != 1:
        return ()
    try:
        return catalog.dataset(str(datasets.pop())).class_names
    except (KeyError, ValueError):  # a plugin's dataset that is no longer installed
        return ()


def class_name(c: int, names: tuple[str, ...]) -> str:
    """``6`` → "6 (shirt)" where the dataset names its classes, else "6"."""
    return f"{c} ({names[c]})" if c < len(names) else str(c)


def _and(items: list[str]) -> str:
    """``["3", "6", "9"]`` → "3, 6 and 9"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _class_list(items: list[str]) -> str:
    """``["3", "6"]`` → "classes 3 and 6"."""
    return f"{'class' if len(items) == 1 else 'classes'} {_and(items)}"


def collapse_note(series: dict[str, dict[str, list]], names: tuple[str, ...] = ()) -> str | None:
    """Classes the admitted pseudo-labels rarely name at the last epoch: the model has stopped
    predicting them, and their images train under other labels."""
    signal = signal_of(series)
    rare = _rare_classes(signal)
    if not rare:
        return None
    named = _class_list([class_name(c, names) for c, _ in rare])
    return (
        f"At the last epoch, pseudo-labels rarely name {named}: "
        f"{_and([_percent(share) for _, share in rare])} of those admitted (uniform "
        f"{_percent(1 / len(signal.shares))}). Images of {named} are admitted under other "
        "labels, so the unlabeled loss confirms the collapse; class-aware thresholds "
        "(FlexMatch, FreeMatch) are meant to counter it."
    )


def _thresholded(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The hyperparameters of a thresholding method (FixMatch, FlexMatch, …), else None:
    MixMatch uses every guess by design, labels-only has none."""
    hparams = spec.get("hparams") or {}
    return hparams if "threshold" in hparams else None


def _in_warmup(hparams: dict[str, Any]) -> bool:
    # Runs stored before the field existed had FlexMatch's warm-up always on.
    return bool(hparams.get("threshold_warmup", True))


def run_notes(
    algorithm: str, series: dict[str, dict[str, list]], spec: dict[str, Any]
) -> list[str]:
    """The notes the run page shows under its heading; empty when nothing stands out."""
    notes = []
    hparams = _thresholded(spec)
    if hparams is not None:
        if _in_warmup(hparams):
            notes.append(warmup_note(series, float(hparams["threshold"])))
        notes.append(mask_note(series))
    notes.append(collapse_note(series, class_names([spec])))
    notes.append(horizon_note(spec))
    return [note for note in notes if note]


def horizon_note(spec: dict[str, Any]) -> str | None:
    """A moving average whose starting value still weighs much at the end of the run (the
    papers' 0.999 in a 600-step run: 55 %), from the spec's momentum and its steps: a fact of
    the spec, so a running run shows where it will end."""
    steps = int(spec.get("epochs") or 0) * int(spec.get("iters_per_epoch") or 0)
    found = horizons.unsettled(spec, steps)
    if not found:
        return None
    parts = [
        f"{label} still at {weight * 100:.0f} % of its starting value" for label, weight in found
    ]
    text = _and(parts)
    return (
        f"{text[0].upper()}{text[1:]} at the end of the run's {steps:,} steps (its weight in "
        "the moving average): a momentum sized for a longer run never settled, so the result "
        "still reflects where the estimate started; left out of the spec, the momentum is "
        "sized to the run."
    )


def last_epoch_keys(diagnostics: tuple[str, ...], num_classes: int) -> list[str]:
    """The keys whose last-epoch values the notes read, for an algorithm that declares
    ``diagnostics`` (its catalog entry's): FlexMatch's warm-up values, the pseudo-label shares
    and the mask ratio beside them. The means over the epochs are read separately."""
    keys = []
    if metrics.UNSEEN_RATIO in diagnostics:
        keys += [
            metrics.UNSEEN_RATIO,
            *metrics.class_keys(metrics.CLASS_THRESHOLD_PREFIX, num_classes),
        ]
    if metrics.PSEUDO_LABEL_SHARE in diagnostics:
        keys += [
            metrics.MASK_RATIO,
            *metrics.class_keys(metrics.PSEUDO_LABEL_SHARE_PREFIX, num_classes),
        ]
    return keys


def group_notes(members: list[tuple[Signal, dict[str, Any]]]) -> list[str]:
    """The compare page's words for one group, from its runs' ``(Signal, spec)``: how many
    ended with FlexMatch's thresholds still in warm-up, how many had a mask ratio or
    pseudo-label accuracy that explains a weak result, and how many ended with pseudo-labels
    that rarely name some class. The same tests as ``run_notes``."""
    warm: list[tuple[float, float]] = []
    masks: dict[str, list[tuple[float, float | None]]] = {"all": [], "none": []}
    counted = 0
    with_shares = [(signal, spec) for signal, spec in members if signal.shares]
    collapsed = [rare for signal, _ in with_shares if (rare := _rare_classes(signal))]
    for signal, spec in members:
        hparams = _thresholded(spec)
        if hparams is None:
            continue
        counted += 1
        if _in_warmup(hparams) and (found := _warmup(signal, float(hparams["threshold"]))):
            warm.append(found)
        if (mask := _mask(signal)) is not None:
            masks[mask[0]].append((mask[1], mask[2]))
    notes = _group_thresholded_notes(counted, warm, masks)
    unsettled = [found for _, spec in members if (found := horizons.unsettled(spec))]
    if unsettled:
        labels = sorted({label for found in unsettled for label, _ in found})
        worst = max(weight for found in unsettled for _, weight in found)
        notes.append(
            f"{len(unsettled)} of {_runs(len(members))} ended with {_and(labels)} still "
            f"weighing its starting value (up to {worst * 100:.0f} %): momenta sized for a "
            "longer run never settled in these."
        )
    oracle = [size for _, spec in members if (size := validation_size(spec)) and size.dwarfs_labels]
    if oracle:
        notes.append(
            f"{len(oracle)} of {_runs(len(members))} chose their epoch on a validation set "
            f"{min(s.per_label for s in oracle):.3g}× the labels or more: close to choosing on "
            'test (Oliver et al. 2018); val_split "realistic" holds out as many images as labels.'
        )
    if collapsed:
        names = class_names([spec for _, spec in with_shares])
        notes.append(_group_collapse_note(collapsed, len(with_shares), names))
    return notes


def _runs(count: int) -> str:
    return f"{count} run{'s' if count > 1 else ''}"


def _group_collapse_note(
    collapsed: list[list[tuple[int, float]]], counted: int, names: tuple[str, ...] = ()
) -> str:
    """How many of ``counted`` runs ended with some class rarely named, and which classes."""
    runs_per_class = Counter(c for rare in collapsed for c, _ in rare)
    which = [f"{class_name(c, names)} in {_runs(n)}" for c, n in sorted(runs_per_class.items())]
    return (
        f"{len(collapsed)} of {_runs(counted)} ended with pseudo-labels that rarely name some "
        f"class (under a quarter of the uniform share of those admitted at the last epoch; "
        f"{_class_list(which)}): images of those "
        "classes were admitted under other labels, so the unlabeled loss confirmed the "
        "collapse; class-aware thresholds (FlexMatch, FreeMatch) are meant to counter it."
    )


def _group_thresholded_notes(
    counted: int,
    warm: list[tuple[float, float]],
    masks: dict[str, list[tuple[float, float | None]]],
) -> list[str]:
    """The warm-up and mask notes of a group's ``counted`` runs of a thresholding method."""
    if not counted:
        return []
    of = f"of {_runs(counted)}"
    notes = []
    if warm:
        unseen = _mean([u for u, _ in warm])
        notes.append(
            f"{len(warm)} {of} ended with FlexMatch's thresholds still in warm-up: on average "
            f"{unseen:.0%} of the unlabeled images were never predicted with confidence ≥ τ "
            f"({metrics.UNSEEN_RATIO} at the last epoch), so every class threshold stayed below "
            "τ and nearly every pseudo-label was used."
        )
    if all_used := masks["all"]:
        mask = _mean([m for m, _ in all_used])
        acc = _mean([a for _, a in all_used if a is not None])
        notes.append(
            f"{len(all_used)} {of} pseudo-labelled everything: {mask:.0%} of the unlabeled images "
            f"entered the loss with pseudo-labels only {acc:.0f} % correct (means over the "
            "epochs), so the unlabeled loss also taught the model its own mistakes."
        )
    if none_used := masks["none"]:
        mask = _mean([m for m, _ in none_used])
        notes.append(
            f"{len(none_used)} {of} had almost no unlabeled signal: only {mask:.1%} of the "
            "unlabeled images passed the threshold (mean over the epochs), so they learned "
            "nearly as labels-only would."
        )
    return notes

"""Words for the run and compare pages: what the pseudo-label diagnostics say about a run's or a
group's unlabeled signal.

A thresholding method (FixMatch, FlexMatch) learns from unlabeled images only through the
pseudo-labels its mask lets in, so the mask ratio and the pseudo-label accuracy explain most weak
results: a mask near 0 leaves a labels-only run, a mask near 1 with wrong pseudo-labels trains on
the model's own mistakes. FlexMatch's thresholds additionally stay below τ while the share of
never-selected images (``train/unseen_ratio``) outweighs every class: its warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssl_core import metrics

# Mean mask ratio at or above which "everything" is pseudo-labelled, and at or below which almost
# nothing is; pseudo-label accuracy below which "everything" is a problem rather than a success.
ALL_USED = 0.95
NONE_USED = 0.05
POOR_PSEUDO_LABELS = 80.0


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


def signal_of(series: dict[str, dict[str, list]]) -> Signal:
    """The ``Signal`` of a run's series (``{key: {"value": [...]}}``)."""
    masks = _values(series, metrics.MASK_RATIO)
    accuracy = _values(series, metrics.PSEUDO_LABEL_ACC)
    unseen = _values(series, metrics.UNSEEN_RATIO)
    class_keys = [k for k in series if k.startswith(metrics.CLASS_THRESHOLD_PREFIX)]
    highest = [v[-1] for k in class_keys if (v := _values(series, k))]
    return Signal(
        mask=_mean(masks) if masks else None,
        accuracy=_mean(accuracy) if accuracy else None,
        epochs=len(masks),
        unseen=unseen[-1] if unseen else None,
        highest_threshold=max(highest) if highest else None,
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
    hparams = _thresholded(spec)
    if hparams is None:
        return []
    notes = []
    if _in_warmup(hparams):
        notes.append(warmup_note(series, float(hparams["threshold"])))
    notes.append(mask_note(series))
    return [note for note in notes if note]


def diagnosis_keys(num_classes: int) -> list[str]:
    """The metric keys the notes read (for a caller that loads only what it needs)."""
    return [
        metrics.MASK_RATIO,
        metrics.PSEUDO_LABEL_ACC,
        metrics.UNSEEN_RATIO,
        *(f"{metrics.CLASS_THRESHOLD_PREFIX}{c}" for c in range(num_classes)),
    ]


def group_notes(members: list[tuple[Signal, dict[str, Any]]]) -> list[str]:
    """The compare page's words for one group, from its runs' ``(Signal, spec)``: how many
    ended with FlexMatch's thresholds still in warm-up, and how many had a mask ratio or
    pseudo-label accuracy that explains a weak result. The same tests as ``run_notes``."""
    warm: list[tuple[float, float]] = []
    masks: dict[str, list[tuple[float, float | None]]] = {"all": [], "none": []}
    counted = 0
    for signal, spec in members:
        hparams = _thresholded(spec)
        if hparams is None:
            continue
        counted += 1
        if _in_warmup(hparams) and (found := _warmup(signal, float(hparams["threshold"]))):
            warm.append(found)
        if (mask := _mask(signal)) is not None:
            masks[mask[0]].append((mask[1], mask[2]))
    if not counted:
        return []
    of = f"of {counted} run{'s' if counted > 1 else ''}"
    notes = []
    if warm:
        unseen = _mean([u for u, _ in warm])
        notes.append(
            f"{len(warm)} {of} ended with FlexMatch's thresholds still in warm-up: on average "
            f"{unseen:.0%} of the unlabeled images were never predicted with confidence ≥ τ "
            "(train/unseen_ratio at the last epoch), so every class threshold stayed below τ and "
            "nearly every pseudo-label was used."
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

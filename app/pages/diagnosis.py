"""Words for the run page: what the pseudo-label diagnostics say about a run's unlabeled signal.

A thresholding method (FixMatch, FlexMatch) learns from unlabeled images only through the
pseudo-labels its mask lets in, so the mask ratio and the pseudo-label accuracy explain most weak
results: a mask near 0 leaves a labels-only run, a mask near 1 with wrong pseudo-labels trains on
the model's own mistakes. FlexMatch's thresholds additionally stay below τ while the share of
never-selected images (``train/unseen_ratio``) outweighs every class: its warm-up.
"""

from __future__ import annotations

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


def warmup_note(series: dict[str, dict[str, list]], threshold: float) -> str | None:
    """FlexMatch's warm-up, from its last epoch: every class threshold still below τ."""
    unseen = _values(series, metrics.UNSEEN_RATIO)
    class_keys = [k for k in series if k.startswith(metrics.CLASS_THRESHOLD_PREFIX)]
    highest = [v[-1] for k in class_keys if (v := _values(series, k))]
    if not unseen or not highest or max(highest) >= threshold * (1 - 1e-6):
        return None
    return (
        f"Thresholds are still in warm-up: {unseen[-1]:.0%} of the unlabeled images have never "
        f"been predicted with confidence ≥ τ = {threshold:g}, more than any class has been, so "
        f"every class threshold is below τ (the highest is {max(highest):.2f}) and FlexMatch "
        "uses nearly every pseudo-label."
    )


def mask_note(series: dict[str, dict[str, list]]) -> str | None:
    """A thresholding method's unlabeled signal over the epochs so far, when it explains a weak
    result: pseudo-labelling everything with poor labels, or almost no unlabeled signal."""
    masks = _values(series, metrics.MASK_RATIO)
    accuracy = _values(series, metrics.PSEUDO_LABEL_ACC)
    if not masks:
        return None
    epochs, mask = len(masks), _mean(masks)
    over = f"on average over {epochs} epoch{'s' if epochs > 1 else ''}"
    if mask >= ALL_USED and accuracy and _mean(accuracy) < POOR_PSEUDO_LABELS:
        return (
            f"Pseudo-labelling everything: {mask:.0%} of the unlabeled images enter the loss "
            f"({over}) with pseudo-labels only {_mean(accuracy):.0f} % correct, so the "
            "unlabeled loss also teaches the model its own mistakes."
        )
    if mask <= NONE_USED:
        return (
            f"Almost no unlabeled signal: only {mask:.1%} of the unlabeled images pass the "
            f"threshold ({over}), so this run learns nearly as labels-only would."
        )
    return None


def run_notes(
    algorithm: str, series: dict[str, dict[str, list]], spec: dict[str, Any]
) -> list[str]:
    """The notes the run page shows under its heading; empty when nothing stands out."""
    hparams = spec.get("hparams") or {}
    if "threshold" not in hparams:  # MixMatch uses every guess by design; labels-only has none
        return []
    notes = []
    if hparams.get("threshold_warmup", True):
        notes.append(warmup_note(series, float(hparams["threshold"])))
    notes.append(mask_note(series))
    return [note for note in notes if note]

"""The metric keys a run logs per epoch: one table for the trainer, the sink, the charts and the
docs (docs/CONTRACTS.md is checked against it by tests/test_contracts.py).

Torch-free. ``train/threshold/<class>`` (FlexMatch) and ``train/pseudo_label_share/<class>`` each
stand for one key per class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ssl_core.contract import catalog
from ssl_core.contract.errors import TrainingDiverged


@dataclass(frozen=True)
class MetricKey:
    name: str
    label: str  # words for a legend or axis
    unit: str  # "%", "share" (0–1), "loss", "lr", "images/s", "weight", "s"
    low: float = -math.inf  # valid range: values outside it are bugs, bands are clipped to it
    high: float = math.inf
    # Who logs it: "all" algorithms, those that use "unlabeled" data (default uratio > 0), or
    # only those that name it in their catalog entry's ``diagnostics`` ("declared"); or every
    # algorithm, but only in runs with the spec's ``compile`` on ("compiled").
    scope: str = "all"
    description: str = ""

    def emitted_by(self) -> tuple[str, ...]:
        """Names of the algorithms that log this key."""
        return tuple(
            name
            for name, entry in catalog.CATALOG.algorithms.items()
            if self.scope in ("all", "compiled")
            or (self.scope == "unlabeled" and entry.default_uratio > 0)
            or self.name in entry.diagnostics
        )

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)


TRAIN_LOSS = "train/loss"
TRAIN_LOSS_X = "train/loss_x"
TRAIN_LOSS_U = "train/loss_u"
UNSUP_WEIGHT = "train/unsup_weight"
LR = "train/lr"
MASK_RATIO = "train/mask_ratio"
PSEUDO_LABEL_ACC = "train/pseudo_label_acc"
IMGS_PER_S = "train/imgs_per_s"
LABELED_TOP1 = "labeled/top1"
VAL_LOSS = "val/loss"
VAL_TOP1 = "val/top1"
VAL_TOP5 = "val/top5"
TEST_LOSS = "test/loss"
TEST_TOP1 = "test/top1"
TEST_TOP5 = "test/top5"
CLASS_THRESHOLD = "train/threshold/<class>"
UNSEEN_RATIO = "train/unseen_ratio"
COMPILE_SECONDS = "train/compile_seconds"
MASK_DIAGNOSTICS = catalog.MASK_DIAGNOSTICS  # mask ratio and pseudo-label accuracy
CLASS_THRESHOLD_PREFIX = "train/threshold/"
PSEUDO_LABEL_SHARE = catalog.PSEUDO_LABEL_SHARE
PSEUDO_LABEL_SHARE_PREFIX = "train/pseudo_label_share/"
# Per-class rows: the prefix of the logged keys → the row that stands for them, and its label.
_PER_CLASS = {
    CLASS_THRESHOLD_PREFIX: (CLASS_THRESHOLD, "threshold of class {}"),
    PSEUDO_LABEL_SHARE_PREFIX: (PSEUDO_LABEL_SHARE, "pseudo-label share of class {}"),
}

_TABLE = (
    MetricKey(TRAIN_LOSS, "train loss (total)", "loss", 0.0,
              description="labeled + weighted unlabeled loss, mean over the epoch's steps"),
    MetricKey(TRAIN_LOSS_X, "train loss, labeled", "loss", 0.0,
              description="supervised loss on the labeled batch"),
    MetricKey(TRAIN_LOSS_U, "train loss, unlabeled", "loss", 0.0, scope="unlabeled",
              description="unlabeled loss before its weight"),
    MetricKey(UNSUP_WEIGHT, "unsupervised weight λu", "weight", 0.0, scope="unlabeled",
              description="weight of the unlabeled loss (with MixMatch's ramp-up)"),
    MetricKey(LR, "learning rate", "lr", 0.0, description="learning rate at the epoch's end"),
    MetricKey(MASK_RATIO, "mask ratio (share of unlabeled used)", "share", 0.0, 1.0, "declared",
              "share of unlabeled samples whose pseudo-label entered the loss"),
    MetricKey(PSEUDO_LABEL_ACC, "pseudo-label accuracy (%)", "%", 0.0, 100.0, "declared",
              "accuracy of the pseudo-labels used, against labels the algorithm never sees"),
    MetricKey(IMGS_PER_S, "images / s", "images/s", 0.0,
              description="training images (all views) per second"),
    MetricKey(LABELED_TOP1, "labeled top-1 (%)", "%", 0.0, 100.0,
              description="EMA model's accuracy on the labeled images"),
    MetricKey(VAL_LOSS, "val loss", "loss", 0.0, description="EMA model, validation split"),
    MetricKey(VAL_TOP1, "val top-1 (%)", "%", 0.0, 100.0,
              description="EMA model, validation split (model selection)"),
    MetricKey(VAL_TOP5, "val top-5 (%)", "%", 0.0, 100.0, description="EMA model, validation"),
    MetricKey(TEST_LOSS, "test loss", "loss", 0.0, description="EMA model, test split"),
    MetricKey(TEST_TOP1, "test top-1 (%)", "%", 0.0, 100.0, description="EMA model, test split"),
    MetricKey(TEST_TOP5, "test top-5 (%)", "%", 0.0, 100.0, description="EMA model, test split"),
    MetricKey(CLASS_THRESHOLD, "threshold of class <class>", "share", 0.0, 1.0, "declared",
              "FlexMatch's current confidence threshold T_c of each class"),
    MetricKey(UNSEEN_RATIO, "never-selected unlabeled (share)", "share", 0.0, 1.0, "declared",
              "FlexMatch: share of unlabeled images never yet predicted with confidence ≥ τ "
              "(σ_−1 / N); while it outweighs every class count, thresholds are in warm-up"),
    MetricKey(PSEUDO_LABEL_SHARE, "pseudo-label share of class <class>", "share", 0.0, 1.0,
              "declared",
              "share of the epoch's admitted pseudo-labels (weighted by the mask, as "
              "train/mask_ratio) that name each class; sums to 1, all 0 when none was admitted"),
    MetricKey(COMPILE_SECONDS, "torch.compile time (s)", "s", 0.0, scope="compiled",
              description="seconds torch.compile spent compiling during the epoch's steps and "
              "evaluation (torch's own accounting, forward and backward graphs); most in "
              "epoch 1, 0 once every graph is compiled"),
)  # fmt: skip

METRIC_KEYS: dict[str, MetricKey] = {key.name: key for key in _TABLE}


def per_class_prefix(name: str) -> str | None:
    """The prefix of a per-class key (``train/threshold/3`` → ``train/threshold/``), else None."""
    return next((prefix for prefix in _PER_CLASS if name.startswith(prefix)), None)


def class_keys(prefix: str, num_classes: int) -> list[str]:
    """The logged keys of one per-class row, in class order."""
    return [f"{prefix}{c}" for c in range(num_classes)]


def lookup(name: str) -> MetricKey | None:
    """The table row of a logged key (``train/threshold/3`` → the per-class row), or None."""
    prefix = per_class_prefix(name)
    if prefix is not None:
        row_name, label = _PER_CLASS[prefix]
        return replace(METRIC_KEYS[row_name], name=name, label=label.format(name[len(prefix) :]))
    return METRIC_KEYS.get(name)


def is_loss(name: str) -> bool:
    """A loss key: in the table with unit "loss", or (a plugin's own key) named like one."""
    row = lookup(name)
    if row is not None:
        return row.unit == "loss"
    return "loss" in name.rsplit("/", 1)[-1]


def label(name: str) -> str:
    row = lookup(name)
    return row.label if row else name


def expected_keys(algorithm: str, num_classes: int, compiled: bool = False) -> set[str]:
    """Every key a run of ``algorithm`` logs each epoch (per-class keys expanded); ``compiled``:
    the run's spec has ``compile`` on."""
    prefixes = {row_name: prefix for prefix, (row_name, _) in _PER_CLASS.items()}
    out = set()
    for key in _TABLE:
        if algorithm not in key.emitted_by() or (key.scope == "compiled" and not compiled):
            continue
        if key.name in prefixes:
            out.update(class_keys(prefixes[key.name], num_classes))
        else:
            out.add(key.name)
    return out


def check_finite(
    metrics: dict[str, float], epoch: int, first_step: int, last_step: int, lr: float
) -> None:
    """The one divergence check: a NaN or infinite loss ends the run with TrainingDiverged."""
    for key, value in metrics.items():
        if is_loss(key) and not math.isfinite(value):
            raise TrainingDiverged(
                f"{key} became {value} during epoch {epoch} (steps {first_step}–{last_step}); "
                f"try a lower lr (now {lr}) or unlabeled_weight"
            )

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
    """One metric: what it is, who logs it and how every page draws it. Row order is drawing
    order: within a run-page chart the traces follow the table."""

    name: str  # the logged key; ``…/<class>`` stands for one key per class
    label: str  # words for a legend or axis
    unit: str  # "%", "share" (0–1), "loss", "lr", "images/s", "weight", "s"
    low: float = -math.inf  # valid range: values outside it are bugs, bands are clipped to it
    high: float = math.inf
    # Who logs it: "all" algorithms, those that use "unlabeled" data (default uratio > 0), or
    # only those that name it in their catalog entry's ``diagnostics`` ("declared"); or every
    # algorithm, but only in runs with the spec's ``compile`` on ("compiled").
    scope: str = "all"
    description: str = ""
    # With scope "declared": algorithms that log it besides those whose catalog entry names it
    # in ``diagnostics`` (a metric of one algorithm is then its row alone).
    by: tuple[str, ...] = ()
    chart: str = ""  # the run page's chart it is drawn in (ssl_core.contract.charts); "": none
    trace: str = ""  # its legend entry there (short: the chart's title says the rest)
    color: str = "blue"  # a name in ssl_core.contract.charts.COLORS
    dash: str = ""  # "": by split (train solid, val dash, test dot, labeled dashdot)
    scale: float = 1.0  # drawn as value × scale: a 0–1 share on a % axis is ×100
    legend_only_up_to: int = 0  # off until clicked in runs of at most this many classes
    compare_default: bool = False  # one of the metrics the compare page opens with
    progress: str = ""  # its short name in ``matchlab train``'s progress bar; "": not shown

    def emitted_by(self) -> tuple[str, ...]:
        """Names of the algorithms that log this key."""
        return tuple(
            name
            for name, entry in catalog.CATALOG.algorithms.items()
            if self.scope in ("all", "compiled")
            or (self.scope == "unlabeled" and entry.default_uratio > 0)
            or (self.scope == "declared" and name in self.by)
            or self.name in entry.diagnostics
        )

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)

    @property
    def per_class(self) -> bool:
        return self.name.endswith(CLASS)

    @property
    def prefix(self) -> str:
        """What each per-class key starts with (``train/threshold/``)."""
        return self.name.removesuffix(CLASS)

    @property
    def line_dash(self) -> str:
        return self.dash or SPLIT_DASH.get(self.name.split("/", 1)[0], "solid")


CLASS = "<class>"
SPLIT_DASH = {"train": "solid", "val": "dash", "test": "dot", "labeled": "dashdot"}
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

_TABLE = (
    # accuracy: top-1 vs top-5 by colour, val / test / labeled by dash
    MetricKey(VAL_TOP1, "val top-1 (%)", "%", 0.0, 100.0, chart="accuracy", trace="val top-1",
              description="EMA model, validation split (model selection)", compare_default=True,
              progress="val"),
    MetricKey(TEST_TOP1, "test top-1 (%)", "%", 0.0, 100.0, chart="accuracy",
              trace="test top-1", description="EMA model, test split", compare_default=True,
              progress="test"),
    MetricKey(LABELED_TOP1, "labeled top-1 (%)", "%", 0.0, 100.0, chart="accuracy",
              trace="labeled top-1", description="EMA model's accuracy on the labeled images"),
    # top-5 of 10 classes is near 100 % and clutters the chart
    MetricKey(VAL_TOP5, "val top-5 (%)", "%", 0.0, 100.0, description="EMA model, validation",
              chart="accuracy", trace="val top-5", color="orange", legend_only_up_to=10),
    MetricKey(TEST_TOP5, "test top-5 (%)", "%", 0.0, 100.0, description="EMA model, test split",
              chart="accuracy", trace="test top-5", color="orange", legend_only_up_to=10),
    MetricKey(CLASS_THRESHOLD, "threshold of class <class>", "share", 0.0, 1.0, "declared",
              "FlexMatch's current confidence threshold T_c of each class", chart="thresholds"),
    MetricKey(TRAIN_LOSS_X, "train loss, labeled", "loss", 0.0, chart="loss",
              trace="labeled (train)", description="supervised loss on the labeled batch"),
    MetricKey(VAL_LOSS, "val loss", "loss", 0.0, description="EMA model, validation split",
              chart="loss", trace="val"),
    MetricKey(TEST_LOSS, "test loss", "loss", 0.0, description="EMA model, test split",
              chart="loss", trace="test"),
    MetricKey(TRAIN_LOSS, "train loss (total)", "loss", 0.0, chart="loss", trace="total (train)",
              color="pink", compare_default=True, progress="loss",
              description="labeled + weighted unlabeled loss, mean over the epoch's steps"),
    MetricKey(TRAIN_LOSS_U, "train loss, unlabeled", "loss", 0.0, scope="unlabeled",
              chart="loss_u", trace="unlabeled (train)", color="green",
              description="unlabeled loss before its weight"),
    MetricKey(MASK_RATIO, "mask ratio (share of unlabeled used)", "share", 0.0, 1.0, "declared",
              "share of unlabeled samples whose pseudo-label entered the loss", chart="pseudo",
              trace="unlabeled used (mask ratio)", color="vermillion", scale=100.0,
              progress="mask"),
    MetricKey(PSEUDO_LABEL_ACC, "pseudo-label accuracy (%)", "%", 0.0, 100.0, "declared",
              "accuracy of the pseudo-labels used, against labels the algorithm never sees",
              chart="pseudo", trace="pseudo-label accuracy", color="sky"),
    # FlexMatch: the warm-up's weight, beside the mask it keeps near 100 %
    MetricKey(UNSEEN_RATIO, "never-selected unlabeled (share)", "share", 0.0, 1.0, "declared",
              "FlexMatch: share of unlabeled images never yet predicted with confidence ≥ τ "
              "(σ_−1 / N); while it outweighs every class count, thresholds are in warm-up",
              chart="pseudo", trace="never selected (warm-up)", color="grey", dash="dash",
              scale=100.0),
    MetricKey(PSEUDO_LABEL_SHARE, "pseudo-label share of class <class>", "share", 0.0, 1.0,
              "declared",
              "share of the epoch's admitted pseudo-labels (weighted by the mask, as "
              "train/mask_ratio) that name each class; sums to 1, all 0 when none was admitted",
              chart="shares"),
    MetricKey(UNSUP_WEIGHT, "unsupervised weight λu", "weight", 0.0, scope="unlabeled",
              description="weight of the unlabeled loss (with MixMatch's ramp-up)",
              chart="unsup", trace="λu"),
    MetricKey(LR, "learning rate", "lr", 0.0, description="learning rate at the epoch's end",
              chart="lr", trace="lr"),
    MetricKey(IMGS_PER_S, "images / s", "images/s", 0.0, chart="speed", trace="images/s",
              description="training images (all views) per second"),
    MetricKey(COMPILE_SECONDS, "torch.compile time (s)", "s", 0.0, scope="compiled",
              description="seconds torch.compile spent compiling during the epoch's steps and "
              "evaluation (torch's own accounting, forward and backward graphs); most in "
              "epoch 1, 0 once every graph is compiled", chart="compile", trace="compile"),
)  # fmt: skip

METRIC_KEYS: dict[str, MetricKey] = {key.name: key for key in _TABLE}
_PER_CLASS = {key.prefix: key for key in _TABLE if key.per_class}


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
        row = _PER_CLASS[prefix]
        return replace(row, name=name, label=row.label.replace(CLASS, name[len(prefix) :]))
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


def logs(row: MetricKey, algorithm: str, compiled: bool = False) -> bool:
    """A run of ``algorithm`` (``compiled``: its spec has ``compile`` on) logs ``row``."""
    return algorithm in row.emitted_by() and (row.scope != "compiled" or compiled)


def expected_keys(algorithm: str, num_classes: int, compiled: bool = False) -> set[str]:
    """Every key a run of ``algorithm`` logs each epoch (per-class keys expanded); ``compiled``:
    the run's spec has ``compile`` on."""
    out = set()
    for row in _TABLE:
        if logs(row, algorithm, compiled):
            out.update(class_keys(row.prefix, num_classes) if row.per_class else [row.name])
    return out


def rows_of_chart(chart: str) -> list[MetricKey]:
    """The rows drawn in one run-page chart, in drawing order."""
    return [row for row in _TABLE if row.chart == chart]


def progress_keys() -> dict[str, str]:
    """Short name → key of the metrics ``matchlab train`` shows after each epoch."""
    return {row.progress: row.name for row in _TABLE if row.progress}


def compare_defaults() -> tuple[str, ...]:
    """The metrics the compare page opens with."""
    return tuple(row.name for row in _TABLE if row.compare_default)


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

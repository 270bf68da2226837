"""The one place that names algorithms, datasets and nets, with every per-name fact.

Torch-free: the web app reads it to validate specs, render forms and colour charts without
importing torch. Everything else — the spec's allowed values, default uratio, chart and CSS
colours, the trainer's lookups — is derived from here; ``tests/test_catalog.py`` fails when any
place disagrees. The torch side of each entry is a ``"module:attribute"`` path, imported only
when a run is built (``ssl_core.registry``).

Algorithms from other installed packages join through the entry point group
``matchlab.algorithms`` (each entry point names an ``AlgorithmEntry``); see docs/ALGORITHMS.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import import_module, metadata
from typing import Any

from ssl_core.contract import hparams as hp

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "matchlab.algorithms"

# Distinct under both light and dark backgrounds; plugins without a colour take the next free one.
SPARE_COLORS = ("#b05cc6", "#c9a227", "#d1495b", "#2a9d8f", "#6c757d", "#8d6e63", "#5e60ce")


@dataclass(frozen=True)
class AlgorithmEntry:
    """What matchlab knows about an algorithm before importing torch."""

    name: str  # registry name: lowercase letters, digits and _
    label: str  # shown in pages ("FixMatch")
    params: type[hp.HParams]  # hyperparameter model (the form fields and their checks)
    implementation: str  # "package.module:Class", a subclass of ssl_core.algorithms.Algorithm
    default_uratio: int = 7  # unlabeled images per labeled one (μ); 0 = labeled only
    # The spec's ema_decay (the evaluated average) when left out.
    default_ema_decay: float = 0.99
    # Unlabeled views per step ("weak" / "strong"), or a function of the hyperparameters.
    views: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
    # Optional metric keys (ssl_core.contract.metrics) this algorithm logs beyond the common ones.
    diagnostics: tuple[str, ...] = ()
    color: str | None = None  # chart and chip colour; None: a spare colour
    description: str = ""
    source: str = "built-in"  # or the distribution that provided the plugin

    def unlabeled_views(self, params: Any) -> tuple[str, ...]:
        return self.views(params) if callable(self.views) else self.views


@dataclass(frozen=True)
class DatasetEntry:
    """What the spec needs to know about a dataset without loading it."""

    name: str
    label: str
    num_classes: int
    channels: int
    image_size: int
    train_size: int  # images in the training split (labeled + unlabeled + validation)
    net: str  # default network
    num_val_per_class: int  # default validation images held out per class
    mean: tuple[float, ...]
    std: tuple[float, ...]
    loader: str  # "module:function(data_dir) -> RawDataset"
    flip: bool = True  # a horizontal flip keeps the class (not for digits or house numbers)
    # Names of classes 0, 1, …, for pages and notes ("class 6 (shirt)"); empty: the index is
    # the name (digits, house numbers) or none is bundled (CIFAR-100).
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"dataset {self.name}: class_names names {len(self.class_names)} classes; it "
                f"has {self.num_classes} (or leave class_names empty)"
            )


@dataclass(frozen=True)
class NetEntry:
    name: str
    label: str
    builder: str  # "module:function(num_classes, in_channels) -> nn.Module"
    # Rows (images) one training step may push through the net on one device: batch × (1 + μ ×
    # views). Beyond it a worker runs out of memory; the spec refuses it with this number.
    max_rows_per_step: int = 65_536
    # How a worker packs runs of this net (worker/slots.py). ``cpu_threads``: threads one run
    # uses to good effect on a CPU (a small net's ops are too small to share between cores);
    # ``gpu_gib``: a planning estimate of one default-sized run's peak memory on a GPU (not a
    # measurement; ``matchlab worker --slots N`` overrides the plan).
    cpu_threads: int = 1
    gpu_gib: float = 2.0
    # The momentum its BatchNorm layers are built with (PyTorch's: the new batch's weight);
    # None: the spec leaves them as built (a plugin net whose value matchlab does not know).
    bn_momentum: float | None = None


MASK_DIAGNOSTICS = ("train/mask_ratio", "train/pseudo_label_acc")
PSEUDO_LABEL_SHARE = "train/pseudo_label_share/<class>"
# What the built-in methods that make pseudo-labels log: the mask diagnostics and, through
# the trainer's ``EpochMeter``, the share of the admitted pseudo-labels naming each class.
PSEUDO_LABEL_DIAGNOSTICS = (*MASK_DIAGNOSTICS, PSEUDO_LABEL_SHARE)

_BUILTIN_ALGORITHMS = (
    AlgorithmEntry(
        "supervised", "Supervised", hp.SupervisedParams,
        "ssl_core.algorithms.supervised:Supervised", default_uratio=0, color="#8a8f98",
        description="labeled images only: the baseline every SSL method must beat",
    ),
    AlgorithmEntry(
        "mixmatch", "MixMatch", hp.MixMatchParams,
        "ssl_core.algorithms.mixmatch:MixMatch", default_uratio=1,
        views=lambda params: ("weak",) * params.num_augmentations,
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#3a7be0",
        description="guessed, sharpened labels for K weak views, mixed up with labeled data",
    ),
    AlgorithmEntry(
        "fixmatch", "FixMatch", hp.FixMatchParams,
        "ssl_core.algorithms.fixmatch:FixMatch", default_uratio=7, views=("weak", "strong"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#e57a35",
        description="confident weak-view predictions as hard labels for a strong view",
    ),
    AlgorithmEntry(
        "flexmatch", "FlexMatch", hp.FlexMatchParams,
        "ssl_core.algorithms.flexmatch:FlexMatch", default_uratio=7, views=("weak", "strong"),
        diagnostics=(*PSEUDO_LABEL_DIAGNOSTICS, "train/threshold/<class>", "train/unseen_ratio"),
        color="#1f9e73",
        description="FixMatch with per-class thresholds that follow each class's learning",
    ),
    AlgorithmEntry(
        "pimodel", "Π-model", hp.PiModelParams,
        "ssl_core.algorithms.pimodel:PiModel", default_uratio=1, views=("weak", "weak"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#9c6644",
        description="two weak views of an unlabeled image should predict the same",
    ),
    AlgorithmEntry(
        "pseudolabel", "Pseudo-Label", hp.PseudoLabelParams,
        "ssl_core.algorithms.pseudolabel:PseudoLabel", default_uratio=1, views=("weak",),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#e05780",
        description="confident predictions become their own hard labels",
    ),
    AlgorithmEntry(
        "meanteacher", "Mean Teacher", hp.MeanTeacherParams,
        "ssl_core.algorithms.meanteacher:MeanTeacher", default_uratio=1, views=("weak", "weak"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#4d908e",
        description="the student matches its weight average's prediction on another view",
    ),
    AlgorithmEntry(
        "uda", "UDA", hp.UDAParams,
        "ssl_core.algorithms.uda:UDA", default_uratio=7, views=("weak", "strong"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#577590",
        description="sharpened weak-view predictions as soft targets for a strong view",
    ),
    AlgorithmEntry(
        "freematch", "FreeMatch", hp.FreeMatchParams,
        "ssl_core.algorithms.freematch:FreeMatch", default_uratio=7, views=("weak", "strong"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#6a994e",
        description="FixMatch with self-adaptive global and class thresholds and a fairness term",
    ),
    AlgorithmEntry(
        "softmatch", "SoftMatch", hp.SoftMatchParams,
        "ssl_core.algorithms.softmatch:SoftMatch", default_uratio=7, views=("weak", "strong"),
        diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#b5838d",
        description="every pseudo-label weighted by a truncated Gaussian of its confidence",
    ),
    AlgorithmEntry(
        "remixmatch", "ReMixMatch", hp.ReMixMatchParams,
        "ssl_core.algorithms.remixmatch:ReMixMatch", default_uratio=1,
        views=("weak", "strong", "strong"), diagnostics=PSEUDO_LABEL_DIAGNOSTICS, color="#277da1",
        description="aligned, sharpened guesses anchor strong views; mixup; rotation prediction",
    ),
)  # fmt: skip

_BUILTIN_DATASETS = (
    # digits: 1,797 images, a fixed 2/3 of each class for training (1,198; the smallest class
    # has 116, so 1,160 is what class balance can use) and the rest (599) for test.
    DatasetEntry(
        "digits", "digits (scikit-learn, 8×8)", 10, 1, 8, 1160, "cnn_small", 20, (0.3,), (0.38,),
        "ssl_core.data.datasets:load_digits", flip=False,
    ),
    DatasetEntry(
        "fashion_mnist", "Fashion-MNIST", 10, 1, 28, 60000, "cnn_small", 500, (0.286,), (0.353,),
        "ssl_core.data.datasets:load_fashion_mnist",
        class_names=("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                     "sneaker", "bag", "ankle boot"),
    ),
    DatasetEntry(
        "cifar10", "CIFAR-10", 10, 3, 32, 50000, "wrn_28_2", 500,
        (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616), "ssl_core.data.datasets:load_cifar10",
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"),
    ),
    DatasetEntry(
        "cifar100", "CIFAR-100", 100, 3, 32, 50000, "wrn_28_8", 50,
        (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
        "ssl_core.data.datasets:load_cifar100",
    ),
    DatasetEntry(
        "svhn", "SVHN", 10, 3, 32, 73257, "wrn_28_2", 500,
        (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), "ssl_core.data.datasets:load_svhn",
        flip=False,
    ),
    # SVHN with its 531,131 "extra" images joined to the 73,257 of train before the split, as
    # TorchSSL and USB train (their SVHN numbers are this variant's); needs extra_32x32.mat.
    DatasetEntry(
        "svhn_extra", "SVHN + extra", 10, 3, 32, 604388, "wrn_28_2", 500,
        (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970),
        "ssl_core.data.datasets:load_svhn_extra", flip=False,
    ),
    # STL-10: 5,000 labeled train images (its 100,000 unlabeled images join the unlabeled split).
    DatasetEntry(
        "stl10", "STL-10", 10, 3, 96, 5000, "wrn_28_2", 50,
        (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713), "ssl_core.data.datasets:load_stl10",
        class_names=("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                     "truck"),
    ),
)  # fmt: skip

_BUILTIN_NETS = (
    NetEntry(
        "cnn_small",
        "small CNN",
        "ssl_core.nets.cnn:cnn_small",
        max_rows_per_step=65_536,
        cpu_threads=1,
        gpu_gib=2.0,
        bn_momentum=0.1,  # PyTorch's default
    ),
    NetEntry(
        "wrn_28_2",
        "WideResNet-28-2",
        "ssl_core.nets.wrn:wrn_28_2",
        max_rows_per_step=16_384,
        cpu_threads=2,
        gpu_gib=8.0,
        bn_momentum=0.001,  # the papers' WideResNet
    ),
    NetEntry(
        "wrn_28_8",
        "WideResNet-28-8",
        "ssl_core.nets.wrn:wrn_28_8",
        max_rows_per_step=4_096,
        cpu_threads=4,
        gpu_gib=32.0,
        bn_momentum=0.001,
    ),
)


@dataclass
class Catalog:
    algorithms: dict[str, AlgorithmEntry] = field(default_factory=dict)
    datasets: dict[str, DatasetEntry] = field(default_factory=dict)
    nets: dict[str, NetEntry] = field(default_factory=dict)

    def add_algorithm(self, entry: AlgorithmEntry) -> None:
        if not isinstance(entry, AlgorithmEntry):
            raise TypeError(f"{ENTRY_POINT_GROUP}: expected an AlgorithmEntry, got {entry!r}")
        if not entry.name.isidentifier() or entry.name != entry.name.lower():
            raise ValueError(f"algorithm name {entry.name!r}: use lowercase letters, digits, _")
        if entry.name in self.algorithms:
            raise ValueError(f"algorithm {entry.name!r} is registered twice")
        if not issubclass(entry.params, hp.HParams):
            raise TypeError(
                f"algorithm {entry.name!r}: params must subclass ssl_core.contract.hparams.HParams"
            )
        if entry.color is None:
            used = {a.color for a in self.algorithms.values()}
            spare = [c for c in SPARE_COLORS if c not in used] or list(SPARE_COLORS)
            entry = _replace(entry, color=spare[0])
        self.algorithms[entry.name] = entry


def _replace(entry: AlgorithmEntry, **changes: Any) -> AlgorithmEntry:
    return replace(entry, **changes)


def _load_plugins(catalog: Catalog) -> None:
    """Register every ``matchlab.algorithms`` entry point; a broken plugin is logged, not fatal."""
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry = point.load()
            if callable(entry) and not isinstance(entry, AlgorithmEntry):
                entry = entry()
            dist = point.dist.name if point.dist else point.value
            catalog.add_algorithm(_replace(entry, source=dist))
        except Exception:
            log.exception("algorithm plugin %s (%s) could not be loaded", point.name, point.value)


def _build() -> Catalog:
    catalog = Catalog()
    for entry in _BUILTIN_ALGORITHMS:
        catalog.add_algorithm(entry)
    catalog.datasets = {d.name: d for d in _BUILTIN_DATASETS}
    catalog.nets = {n.name: n for n in _BUILTIN_NETS}
    _load_plugins(catalog)
    return catalog


CATALOG = _build()
ALGORITHMS: tuple[str, ...] = tuple(CATALOG.algorithms)
DATASETS: tuple[str, ...] = tuple(CATALOG.datasets)
NETS: tuple[str, ...] = tuple(CATALOG.nets)
BUILTIN_ALGORITHMS: tuple[str, ...] = tuple(a.name for a in _BUILTIN_ALGORITHMS)
# `matchlab up --demo` and the "algorithm comparison" template: the seed's plan and the baseline.
DEMO_ALGORITHMS: tuple[str, ...] = ("supervised", "mixmatch", "fixmatch", "flexmatch")


def _get(kind: str, table: dict[str, Any], name: str) -> Any:
    try:
        return table[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(table))}") from None


def algorithm(name: str) -> AlgorithmEntry:
    return _get("algorithm", CATALOG.algorithms, name)


def dataset(name: str) -> DatasetEntry:
    return _get("dataset", CATALOG.datasets, name)


def net(name: str) -> NetEntry:
    return _get("net", CATALOG.nets, name)


def colors() -> dict[str, str]:
    """Algorithm name → colour, for charts, chips and CSS."""
    return {name: entry.color or SPARE_COLORS[0] for name, entry in CATALOG.algorithms.items()}


def load_object(path: str) -> Any:
    """``"package.module:attribute"`` → the attribute (imports the module, torch and all)."""
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)

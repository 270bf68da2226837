"""The run spec: one JSON object that fully describes a training run.

Torch-free on purpose: the web app validates specs with these models without importing torch.
Every field has a default except ``algorithm``; unknown keys and out-of-range values are rejected
with a message that names the field and says what would be valid.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from ssl_core.contract import catalog
from ssl_core.contract.catalog import ALGORITHMS, DATASETS, NETS, DatasetEntry
from ssl_core.contract.dotted import deep_merge
from ssl_core.contract.dotted import flatten_spec as flatten_spec  # re-exported
from ssl_core.contract.dotted import set_dotted as set_dotted  # re-exported
from ssl_core.contract.horizons import fill_derived
from ssl_core.contract.hparams import MAX_TOTAL_STEPS, HParams, Strict
from ssl_core.contract.presets import PRESETS as PRESETS  # re-exported: ssl_core.spec.PRESETS
from ssl_core.contract.presets import paper_spec_values, preset_overrides

WEAK_AUGMENTS = ("crop", "flip", "noise")

# Caps that keep one run inside what a user can mean; documented in the README.
MAX_EPOCHS = 10_000
MAX_ITERS_PER_EPOCH = 100_000
MAX_BATCH_SIZE = 4096

DatasetInfo = DatasetEntry  # the name older code and notebooks use


def _leaf_types(annotation: Any) -> set[Any]:
    """``Annotated[float, ...] | None`` → {float, NoneType}."""
    if get_origin(annotation) is Annotated:
        return _leaf_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_leaf_types(arg) for arg in get_args(annotation)))
    return {annotation}


def _tagged(name: str, params: type[HParams]) -> type[HParams]:
    """The algorithm's model plus the ``algorithm`` tag that picks it out of the union."""
    return create_model(
        params.__name__,
        __base__=params,
        __module__=params.__module__,
        algorithm=(Literal[name], Field(name, exclude=True)),
    )


# Derived from the catalog: the hyperparameter model of every algorithm, built-in or plugin.
PARAMS_BY_ALGORITHM: dict[str, type[HParams]] = {
    name: _tagged(name, entry.params) for name, entry in catalog.CATALOG.algorithms.items()
}
DEFAULT_UNLABELED_RATIO = {
    name: entry.default_uratio for name, entry in catalog.CATALOG.algorithms.items()
}
# The learning rate when the spec names none, by optimizer. SGD 0.1, not the papers' 0.03 (tuned
# for 2^20 steps): in the CPU-sized runs of a few hundred steps 0.03 leaves the unlabeled loss too
# little room to move the model, while labels-only is the same at either rate
# (docs/STUDY_fashion_mnist_40.md). Adam 0.002: MixMatch's paper and the seed tutorial.
DEFAULT_LR = {"sgd": 0.1, "adam": 0.002}
AlgorithmParams = Annotated[
    Union[tuple(PARAMS_BY_ALGORITHM.values())],  # noqa: UP007 — built at run time
    Field(discriminator="algorithm"),
]


def _refuse_booleans(values: dict[str, Any], model: type[BaseModel] | None, prefix: str) -> None:
    """Pydantic would read JSON true as 1 in a number field (``batch_size: true``): a mistake,
    never a meaning. (Text stays convertible: the HTML forms send every value as text.)"""
    for key, value in values.items():
        field = model.model_fields.get(key) if model is not None else None
        if isinstance(value, bool) and field is not None:
            types = _leaf_types(field.annotation)
            if bool not in types and types & {int, float}:
                raise ValueError(f"{prefix}{key}: must be a number, not {str(value).lower()}")


def default_weak_augment(dataset: str) -> list[str]:
    """Crop + flip, but crop only where a mirror changes the class: a mirrored digit is another
    symbol or none (the reference; the papers' SVHN runs shift only)."""
    return ["crop", "flip"] if catalog.dataset(dataset).flip else ["crop"]


class RunSpec(Strict):
    """Everything a run needs. ``RunSpec.model_validate(dict)`` is the one way in."""

    name: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    algorithm: Literal[ALGORITHMS]  # type: ignore[valid-type] — names from the catalog
    dataset: Literal[DATASETS] = "digits"  # type: ignore[valid-type]
    num_labels: int = Field(40, ge=1, description="labeled images in total, class-balanced")
    num_val_per_class: int | None = Field(
        None,
        ge=0,
        description="validation images per class; left out, by val_split: the dataset's "
        "(standard) or the labels per class (realistic)",
    )
    val_split: Literal["standard", "realistic"] = Field(
        "standard",
        description="validation set size when num_val_per_class is left out: standard, the "
        "dataset's (e.g. 500 per class on Fashion-MNIST and CIFAR-10); realistic, as many "
        "images as labels "
        "(Oliver et al. 2018: a validation set far larger than the labels is an oracle for "
        "model selection that a real user would not have)",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    net: Literal[NETS] | None = None  # type: ignore[valid-type]
    epochs: int = Field(20, ge=1, le=MAX_EPOCHS, description="evaluation intervals")
    iters_per_epoch: int = Field(30, ge=1, le=MAX_ITERS_PER_EPOCH, description="steps per epoch")
    batch_size: int = Field(32, ge=1, le=MAX_BATCH_SIZE, description="labeled batch size B")
    uratio: int | None = Field(None, ge=0, le=64, description="unlabeled per labeled image μ")
    eval_batch_size: int = Field(512, ge=1, le=MAX_BATCH_SIZE)
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float | None = Field(
        None,
        gt=0,
        le=10,
        description="learning rate; default by optimizer: sgd 0.1 (sized to short CPU runs), "
        "adam 0.002",
    )
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = True
    weight_decay: float = Field(
        5e-4, ge=0, le=1, description="L2 weight decay on conv and linear weights"
    )
    decay_all_params: bool = Field(
        False,
        description="decay every parameter, BatchNorm and biases too (what earlier matchlab did); "
        "off: conv and linear weights only, as the papers, USB and TorchSSL",
    )
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    ema_decay: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="EMA decay of the evaluated weights (Mean Teacher's teacher); left out, the "
        "algorithm's default: 0.99, or 0.9 for meanteacher",
    )
    weak_augment: list[Literal["crop", "flip", "noise"]] = Field(
        default_factory=lambda: ["crop", "flip"],
        description="weak augmentation; left out, crop plus flip where a mirror keeps the class "
        "(not digits or SVHN: crop only); a list given is used as given",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="auto: bf16 on a GPU, fp32 on a CPU (the `paper` preset: fp32 unless bf16 "
        "is asked for)",
    )
    bn_momentum: float | None = Field(
        None,
        gt=0,
        le=1,
        description="BatchNorm momentum (the new batch's weight); left out, the net's own (WRN "
        "0.001, small CNN 0.1) unless its start would weigh over 1 % at a quarter of the run, "
        "then the value that settles there (600 steps: 0.0303); the `paper` preset: the net's own",
    )
    strong_augment: Literal["fixmatch", "usb"] = Field(
        "fixmatch",
        description="strong augmentation variant: fixmatch (enhance factors 0.1–1.9, centred "
        "shears, hparams.strong_augment_ops default 2) or usb (USB's RandAugment: factors "
        "0.05–0.95, shears about the corner, 3 ops unless strong_augment_ops is set)",
    )
    compile: bool = Field(
        False,
        description="torch.compile the net for training and evaluation: faster steps after a "
        "one-time compile, logged as train/compile_seconds; results match eager to rounding",
    )
    hparams: AlgorithmParams = Field(discriminator="algorithm")

    @model_validator(mode="before")
    @classmethod
    def _route_hparams(cls, data: Any) -> Any:
        # The algorithm picks the hyperparameter model; users never write hparams.algorithm.
        if isinstance(data, dict) and isinstance(data.get("algorithm"), str):
            data = dict(data)
            hparams = data.get("hparams") or {}
            if isinstance(hparams, BaseModel):
                hparams = hparams.model_dump()
            if isinstance(hparams, dict):
                _refuse_booleans(hparams, PARAMS_BY_ALGORITHM.get(data["algorithm"]), "hparams.")
                data["hparams"] = {**hparams, "algorithm": data["algorithm"]}
        if isinstance(data, dict):
            _refuse_booleans(data, cls, "")
        return data

    @field_validator("weak_augment")
    @classmethod
    def _unique_augments(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=WEAK_AUGMENTS.index)

    @model_validator(mode="after")
    def _fill_and_check(self) -> RunSpec:
        info = catalog.dataset(self.dataset)
        # Fill dataset- and algorithm-dependent defaults so the stored spec is explicit.
        if self.net is None:
            object.__setattr__(self, "net", info.net)
        labels_per_class = self.num_labels // info.num_classes
        realistic = max(1, labels_per_class)
        if self.num_val_per_class is None:
            size = realistic if self.val_split == "realistic" else info.num_val_per_class
            object.__setattr__(self, "num_val_per_class", size)
        elif self.val_split == "realistic" and self.num_val_per_class != realistic:
            raise ValueError(
                f"num_val_per_class: the realistic val_split holds out as many images as labels, "
                f"{realistic} per class for {self.num_labels} labels; got "
                f"{self.num_val_per_class} (leave num_val_per_class out, or use val_split "
                f"standard)"
            )
        fill_derived(self)  # momenta, ramps and USB's N from the run (contract.horizons)
        if self.uratio is None:
            object.__setattr__(self, "uratio", DEFAULT_UNLABELED_RATIO[self.algorithm])
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        if self.ema_decay is None:
            entry = catalog.algorithm(self.algorithm)
            object.__setattr__(self, "ema_decay", entry.default_ema_decay)
        if "weak_augment" not in self.model_fields_set:
            # Only the default changes: a list the user wrote is honoured, and the stored spec
            # names the result, so a re-validated spec keeps it.
            object.__setattr__(self, "weak_augment", default_weak_augment(self.dataset))
        if self.algorithm != "supervised" and self.uratio < 1:
            raise ValueError(
                f"uratio: {self.algorithm} needs at least 1 unlabeled image per labeled one"
            )
        if self.num_labels % info.num_classes:
            raise ValueError(
                f"num_labels: must be a multiple of {info.num_classes} (the classes of "
                f"{self.dataset}) so the labeled set is class-balanced; got {self.num_labels}"
            )
        per_class = info.train_size // info.num_classes
        if self.num_val_per_class >= per_class:
            raise ValueError(
                f"num_val_per_class: {self.dataset} has about {per_class} training images per "
                f"class, so at most {per_class - 1} can go to validation; got "
                f"{self.num_val_per_class}"
            )
        room = per_class - self.num_val_per_class
        if self.num_labels // info.num_classes > room:
            raise ValueError(
                f"num_labels: {self.dataset} has about {per_class} training images per class and "
                f"{self.num_val_per_class} go to validation, so at most {room * info.num_classes} "
                f"labels fit; got {self.num_labels}"
            )
        net = catalog.net(self.net)
        views = len(self.unlabeled_views) if self.uratio else 0
        rows = self.batch_size * (1 + self.uratio * views)
        if rows > net.max_rows_per_step:
            raise ValueError(
                f"batch_size: one {self.algorithm} step would push batch_size × (1 + uratio × "
                f"{views} views) = {self.batch_size} × (1 + {self.uratio} × {views}) = {rows:,} "
                f"images through {self.net}, more than its limit of {net.max_rows_per_step:,}; "
                f"lower batch_size or uratio"
                + (" or hparams.num_augmentations" if self.algorithm == "mixmatch" else "")
            )
        if self.epochs * self.iters_per_epoch > MAX_TOTAL_STEPS:
            raise ValueError(
                f"epochs: epochs × iters_per_epoch must be at most {MAX_TOTAL_STEPS:,} steps; "
                f"got {self.epochs} × {self.iters_per_epoch}"
            )
        return self

    @property
    def total_steps(self) -> int:
        return self.epochs * self.iters_per_epoch

    @property
    def dataset_info(self) -> DatasetEntry:
        return catalog.dataset(self.dataset)

    @property
    def unlabeled_views(self) -> tuple[str, ...]:
        """The unlabeled views one step of this algorithm augments (from the catalog)."""
        return catalog.algorithm(self.algorithm).unlabeled_views(self.hparams)

    def to_json_dict(self) -> dict[str, Any]:
        """The spec as stored: every default filled in, hparams without the routing key."""
        return self.model_dump(mode="json")


def build_spec(values: dict[str, Any], preset: str | None = None) -> RunSpec:
    """Validate ``values`` on top of an optional preset (the user's values win)."""
    if preset:
        algorithm = values.get("algorithm")
        if not isinstance(algorithm, str) or algorithm not in PARAMS_BY_ALGORITHM:
            raise ValueError(
                f"algorithm: unknown algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}"
            )
        dataset = values.get("dataset", "digits")
        # A dataset of the wrong type is refused by the spec's own validation below.
        preset_dataset = dataset if isinstance(dataset, str) else "digits"
        fields = PARAMS_BY_ALGORITHM[algorithm].model_fields
        values = deep_merge(preset_overrides(preset, fields, algorithm, preset_dataset), values)
        if preset == "paper":
            values = paper_spec_values(values, preset_dataset)
    return RunSpec.model_validate(values)


def field_docs(algorithm: str) -> list[dict[str, Any]]:
    """The algorithm's hyperparameters for forms: name, default, description, constraints."""
    model = PARAMS_BY_ALGORITHM[algorithm]
    docs = []
    for name, field in model.model_fields.items():
        if name == "algorithm":
            continue
        docs.append(
            {
                "name": name,
                "default": field.default,
                "description": field.description or "",
                "annotation": getattr(field.annotation, "__name__", str(field.annotation)),
            }
        )
    return docs


def __getattr__(name: str) -> Any:
    """``error_messages`` and ``format_errors`` live in ``spec_errors`` (they need ``RunSpec``);
    the library API names them here, so they resolve on first use."""
    if name in ("error_messages", "format_errors"):
        from ssl_core.contract import spec_errors

        return getattr(spec_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Hyperparameter models of the built-in algorithms (torch-free: the web app renders and validates
them). A plugin's model subclasses ``HParams`` the same way (see docs/ALGORITHMS.md).

Names say what a value is in words; the paper's symbol is in the description.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TOTAL_STEPS = 2**21

UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """Unknown keys, NaN and infinity are errors, not silently dropped or stored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class HParams(Strict):
    """Base of every algorithm's hyperparameters. The catalog adds the ``algorithm`` tag."""


class SupervisedParams(HParams):
    """Labeled-only baseline: cross-entropy on the labeled batch; the unlabeled split is unused."""


class MixMatchParams(HParams):
    """MixMatch (Berthelot et al. 2019)."""

    temperature: float = Field(0.5, gt=0, le=10, description="sharpening temperature T")
    mixup_alpha: float = Field(0.75, gt=0, le=100, description="Beta(α, α) parameter α of mixup")
    fixed_mixup_lambda: UnitFloat | None = Field(
        None,
        description="fixed mixup ratio λ instead of a Beta draw (the seed's ablation)",
        json_schema_extra={"null_means": "Beta draw"},
    )
    unlabeled_weight: float = Field(75.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    rampup_iters: int = Field(
        256, ge=0, le=MAX_TOTAL_STEPS, description="steps over which λu ramps up linearly from 0"
    )
    num_augmentations: int = Field(
        2, ge=1, le=8, description="weak augmentations K per unlabeled image"
    )
    bn_stats_every_pass: bool = Field(
        False,
        description="update BatchNorm running statistics on every forward pass, four a step "
        "(the seed); off: once a step, from the first interleaved chunk (original, USB)",
    )


class FixMatchParams(HParams):
    """FixMatch (Sohn et al. 2020)."""

    threshold: UnitFloat = Field(0.95, description="confidence threshold τ for pseudo-labels")
    unlabeled_weight: float = Field(1.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    strong_augment_ops: int = Field(2, ge=0, le=14, description="RandAugment ops N per image")
    cutout_fraction: UnitFloat = Field(
        0.5,
        description="largest Cutout side as a fraction of the image side (each image draws "
        "its side from U(0, this), as USB)",
    )


class FlexMatchParams(FixMatchParams):
    """FlexMatch (Zhang et al. 2021): FixMatch with per-class, curriculum thresholds."""

    threshold_warmup: bool = Field(
        False,
        description="count never-confident samples in β_c (the paper; the `paper` preset): "
        "thresholds stay near 0 until most unlabeled images were once confident, which a "
        "CPU-sized run never reaches (docs/STUDY_fashion_mnist_40.md), so off by default",
    )
    mapping: Literal["convex", "linear", "concave"] = Field(
        "convex", description="mapping M(β) from learning effect to threshold"
    )

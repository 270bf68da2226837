"""Hyperparameter models of the built-in algorithms (torch-free: the web app renders and validates
them). A plugin's model subclasses ``HParams`` the same way (see docs/ALGORITHMS.md).

Names say what a value is in words; the paper's symbol is in the description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TOTAL_STEPS = 2**21

UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """Unknown keys, NaN and infinity are errors, not silently dropped or stored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class HParams(Strict):
    """Base of every algorithm's hyperparameters. The catalog adds the ``algorithm`` tag."""


def strong_augment_settings(params: HParams) -> tuple[int, float]:
    """RandAugment ops N and the Cutout fraction for a strong view: the algorithm's own fields,
    else FixMatch's defaults (a plugin that asks for a strong view need not declare them)."""
    defaults = FixMatchParams.model_fields
    return (
        getattr(params, "strong_augment_ops", defaults["strong_augment_ops"].default),
        getattr(params, "cutout_fraction", defaults["cutout_fraction"].default),
    )


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
    unlabeled_weight: float = Field(
        25.0,
        ge=0,
        le=10_000,
        description="unlabeled loss weight λu (25: with SGD λu scales the unlabeled term's step "
        "like the learning rate, so at the default lr 0.1 it keeps the step 75 gave at 0.03; "
        "75 at lr 0.1 fell to labels-only on one seed of three, docs/STUDY_fashion_mnist_40.md; "
        "the `paper` preset: 75, 150 on CIFAR-100)",
    )
    rampup_iters: int | None = Field(
        None,
        ge=0,
        le=MAX_TOTAL_STEPS,
        description="steps over which λu ramps up linearly from 0; left out, the whole run "
        "(epochs × iters_per_epoch, recorded in the stored spec): full weight at step 256 of 600 "
        "put λu 75 on guesses half wrong, docs/STUDY_fashion_mnist_40.md; the `paper` preset: "
        "16,384",
        json_schema_extra={"null_means": "the whole run"},
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


def _unlabeled_warmup(default: float = 0.4) -> Any:
    return Field(
        default,
        ge=0,
        le=1,
        description="share of the run over which λu ramps up linearly from 0 (USB's "
        "unsup_warm_up; 0: no ramp)",
    )


def _strong_augment_ops() -> Any:
    return Field(2, ge=0, le=14, description="RandAugment ops N per image")


def _cutout_fraction() -> Any:
    return Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="largest Cutout side as a fraction of the image side (each image draws "
        "its side from U(0, this), as USB)",
    )


def _ema_momentum() -> Any:
    return Field(
        None,
        ge=0,
        lt=1,
        description="momentum of the running class and confidence estimates (the papers: "
        "0.999, the `paper` preset); left out, derived from the run's length so the starting "
        "value weighs under 1 % by a quarter of the run, at most 0.999 (600 steps: 0.9697; "
        "ssl_core/contract/horizons.py), and recorded in the stored spec",
        json_schema_extra={"null_means": "derived from the run's length"},
    )


class PseudoLabelParams(HParams):
    """Pseudo-Label (Lee 2013), as USB: confident predictions are their own hard targets."""

    threshold: UnitFloat = Field(
        0.95, description="confidence threshold τ (USB; 0: every prediction, as the paper)"
    )
    unlabeled_weight: float = Field(1.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    unlabeled_warmup: float = _unlabeled_warmup()


class PiModelParams(HParams):
    """Π-model (Laine & Aila 2017; Rasmus et al. 2015): two weak views should agree (MSE)."""

    unlabeled_weight: float = Field(10.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    unlabeled_warmup: float = _unlabeled_warmup()


class MeanTeacherParams(HParams):
    """Mean Teacher (Tarvainen & Valpola 2017): an EMA of the student's weights (the teacher,
    decay α) makes the student's targets; the evaluated EMA is the spec's ``ema_decay``, as
    for every other method."""

    unlabeled_weight: float = Field(50.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    teacher_decay: float = Field(
        0.9,
        ge=0,
        lt=1,
        description="EMA decay α of the teacher (0.9: 0.99, an average over ~100 steps, lags a "
        "600-step run too far to teach, docs/ALGORITHMS.md; the paper and the `paper` preset: "
        "0.999)",
    )
    unlabeled_warmup: float = _unlabeled_warmup()


class UDAParams(HParams):
    """UDA (Xie et al. 2020): sharpened weak-view targets for a strong view, confidence mask."""

    threshold: UnitFloat = Field(0.8, description="confidence threshold β of the mask")
    temperature: float = Field(0.4, gt=0, le=10, description="sharpening temperature τ")
    unlabeled_weight: float = Field(1.0, ge=0, le=10_000, description="unlabeled loss weight λ")
    tsa_schedule: Literal["none", "linear", "exp", "log"] = Field(
        "none", description="training signal annealing of the labeled loss (none: off, as USB)"
    )
    strong_augment_ops: int = _strong_augment_ops()
    cutout_fraction: float = _cutout_fraction()


class FreeMatchParams(HParams):
    """FreeMatch (Wang et al. 2023): self-adaptive global and class thresholds, fairness term."""

    unlabeled_weight: float = Field(1.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    fairness_weight: float = Field(
        0.001, ge=0, le=100, description="weight λf of the self-adaptive fairness term"
    )
    ema_momentum: float | None = _ema_momentum()
    strong_augment_ops: int = _strong_augment_ops()
    cutout_fraction: float = _cutout_fraction()


class SoftMatchParams(HParams):
    """SoftMatch (Chen et al. 2023): truncated Gaussian sample weights, uniform alignment."""

    unlabeled_weight: float = Field(1.0, ge=0, le=10_000, description="unlabeled loss weight λu")
    n_sigma: float = Field(
        2.0, gt=0, le=10, description="width: full weight within n_sigma σ below the mean μ"
    )
    ema_momentum: float | None = _ema_momentum()
    uniform_alignment: bool = Field(
        True, description="align the mean prediction to the uniform distribution (UA)"
    )
    strong_augment_ops: int = _strong_augment_ops()
    cutout_fraction: float = _cutout_fraction()


class ReMixMatchParams(HParams):
    """ReMixMatch (Berthelot et al. 2020), as USB: RandAugment strong views in place of
    CTAugment, two of them (the paper anchors K = 8)."""

    temperature: float = Field(0.5, gt=0, le=10, description="sharpening temperature T")
    mixup_alpha: float = Field(0.75, gt=0, le=100, description="Beta(α, α) parameter α of mixup")
    unlabeled_weight: float = Field(
        1.5, ge=0, le=10_000, description="weight λU of the mixed unlabeled loss"
    )
    strong_view_weight: float = Field(
        0.5, ge=0, le=10_000, description="weight λÛ1 of the unmixed first strong view's loss"
    )
    rotation_weight: float = Field(
        0.5, ge=0, le=10_000, description="weight λr of the rotation loss (0: no rotation head)"
    )
    unlabeled_warmup: float = _unlabeled_warmup(1 / 64)
    alignment_momentum: float | None = _ema_momentum()
    strong_augment_ops: int = _strong_augment_ops()
    cutout_fraction: float = _cutout_fraction()

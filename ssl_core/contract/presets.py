"""Run-spec presets: field overrides applied before the user's own values (``build_spec``).
Torch-free; ``ssl_core.contract.spec`` re-exports ``PRESETS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssl_core.contract import catalog

# Presets: field overrides applied before the user's own values. Keys of `hparams` apply only to
# algorithms whose hyperparameter model has that field.
PRESETS: dict[str, dict[str, Any]] = {
    # The published CIFAR settings (FixMatch / FlexMatch / MixMatch papers, USB).
    "paper": {
        "batch_size": 64,
        "optimizer": "sgd",
        "lr": 0.03,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
        "lr_schedule": "cosine",
        "ema_decay": 0.999,
        "epochs": 1024,
        "iters_per_epoch": 1024,
        "eval_batch_size": 1024,
        # No weak_augment here: the dataset's default is the papers' (crop + flip; crop only on
        # SVHN, whose flip the papers leave out).
        # TorchSSL's and USB's RandAugment (3 ops), which produced the reference tables.
        "strong_augment": "usb",
        # FlexMatch's warm-up is the paper's; the CPU-sized default leaves it off (its hparams).
        # The moving averages keep the papers' momenta (the CPU default derives them from the
        # run's length, ssl_core/contract/horizons.py); the BatchNorm momentum and fp32 are set
        # by build_spec, which knows the net.
        "hparams": {
            "rampup_iters": 16384,
            "threshold_warmup": True,
            "ema_momentum": 0.999,
            "alignment_momentum": 0.999,
            "teacher_decay": 0.999,
        },
    },
    # The seed tutorial's MixMatch settings: Adam 0.002, EMA 0.9, λu 75, "128" labels (the seed
    # takes int(128 / 10) = 12 per class, so 120), 128 iterations × 5 epochs,
    # pad-crop + flip + gaussian noise, ramp-up over the whole run.
    "tutorial": {
        "num_labels": 120,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 0.002,
        "weight_decay": 0.0,
        "lr_schedule": "constant",
        "ema_decay": 0.9,
        "epochs": 5,
        "iters_per_epoch": 128,
        "weak_augment": ["crop", "flip", "noise"],
        "hparams": {
            "unlabeled_weight": 75.0,
            "rampup_iters": 640,
            "temperature": 0.5,
            "bn_stats_every_pass": True,  # the seed updated BatchNorm statistics on every pass
            "threshold_warmup": True,  # as tutorial runs always had it, so they stay comparable
        },
    },
}


# Fields the `paper` preset settles in build_spec rather than here (they depend on the net and
# on what the user chose): the net's own BatchNorm momentum, fp32 for precision `auto`.
PAPER_SPEC_FIELDS = ("bn_momentum", "precision")


def preset_fields(preset: str) -> set[str]:
    """The dotted spec fields ``preset`` sets (``hparams.x`` for its hyperparameters)."""
    fields = {key for key in PRESETS[preset] if key != "hparams"}
    fields |= {f"hparams.{key}" for key in PRESETS[preset].get("hparams", {})}
    return fields | (set(PAPER_SPEC_FIELDS) if preset == "paper" else set())


def preset_overrides(
    preset: str, fields: Mapping[str, Any], algorithm: str, dataset: str
) -> dict[str, Any]:
    """What ``preset`` sets for a run of ``algorithm`` (whose hyperparameter model has
    ``fields``) on ``dataset``: its hparams only where that model has them."""
    if preset not in PRESETS:
        raise ValueError(f"preset: unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    values = {k: v for k, v in PRESETS[preset].items() if k != "hparams"}
    hparams = {}
    for key, value in PRESETS[preset].get("hparams", {}).items():
        if key in fields:
            hparams[key] = value
    if preset == "paper" and algorithm == "mixmatch":
        hparams["unlabeled_weight"] = 150.0 if dataset == "cifar100" else 75.0
    if preset == "paper" and dataset == "cifar100":
        values["weight_decay"] = 1e-3
    values["hparams"] = hparams
    return values


def paper_spec_values(values: dict[str, Any], dataset: str) -> dict[str, Any]:
    """``values`` (the preset merged with the user's) with what the `paper` preset settles once
    the net is known: the net's own BatchNorm momentum, and fp32 for precision ``auto`` (bf16
    on a GPU otherwise, which the papers' numbers were not produced with). A value the user
    gave is kept."""
    values = dict(values)
    if values.get("precision", "auto") == "auto":
        values["precision"] = "fp32"
    if values.get("bn_momentum") is None and dataset in catalog.DATASETS:
        net = values.get("net") or catalog.dataset(dataset).net
        native = catalog.CATALOG.nets.get(net) if isinstance(net, str) else None
        if native is not None and native.bn_momentum is not None:
            values["bn_momentum"] = native.bn_momentum
    return values

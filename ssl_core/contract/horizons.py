"""Horizons that fit the run: moving-average momenta, BatchNorm momentum and ramp-ups sized to
the run's length, and how far each mechanism of a finished spec is from settled.

Torch-free (the web app's diagnosis notes read it). The papers' momenta (0.999) are sized to
2^20 steps; at the 600-step CPU default 0.999^600 = 55 % of the starting value is still in the
average at the end. A value the spec leaves out is derived so the starting value's weight falls
below ``SETTLED_WEIGHT`` by ``SETTLE_SHARE`` of the run, and never slower to settle than the
paper's own value (a long run keeps 0.999). An explicit value always wins; the ``paper`` preset
writes the papers' values. docs/ALGORITHMS.md lists this as a departure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ssl_core.contract import catalog

# The starting value's weight must fall below 1 % by a quarter of the run: the remaining three
# quarters then train against a settled estimate, and a quarter is long enough that an average
# over it (~T/(4·4.6) steps) still smooths the batch-to-batch noise it exists to remove.
SETTLE_SHARE = 0.25
SETTLED_WEIGHT = 0.01
# The moving averages' value in the papers (FreeMatch, SoftMatch, ReMixMatch's alignment).
PAPER_MOMENTUM = 0.999
# A finished run whose start still weighs this much is flagged by the diagnosis notes.
UNSETTLED_WEIGHT = 0.10


def settling_momentum(total_steps: int, paper: float = PAPER_MOMENTUM) -> float:
    """The slowest momentum m whose start weight m^n is at most ``SETTLED_WEIGHT`` after
    n = ``SETTLE_SHARE`` · ``total_steps`` updates, rounded down to 4 decimals (so the bound
    holds), and never above ``paper``: 0.9698 for 600 steps, 0.999 from ~18,400 steps."""
    steps = max(1, math.floor(SETTLE_SHARE * total_steps))
    derived = math.floor(SETTLED_WEIGHT ** (1 / steps) * 10_000) / 10_000
    return min(paper, derived)


def settling_bn_momentum(total_steps: int, native: float) -> float:
    """BatchNorm's momentum is the weight of the new batch (PyTorch's convention), so its start
    weighs (1 − b)^n: the net's own ``native`` value unless it settles too slowly (WRN 0.001)."""
    return max(native, round(1 - settling_momentum(total_steps, 1 - native), 4))


def remaining_weight(momentum: float, steps: int) -> float:
    """The starting value's weight in a moving average v ← m·v + (1 − m)·x after ``steps``."""
    return momentum ** max(0, steps)


@dataclass(frozen=True)
class Mechanism:
    """A moving average a run keeps: where its momentum is in the spec and what it estimates."""

    label: str  # "FreeMatch's global threshold"
    field: str  # "hparams.ema_momentum", or a top-level spec field
    algorithm: str | None = None  # None: every algorithm
    new_weight: bool = False  # the field is the new value's weight (BatchNorm), not the old's


MECHANISMS = (
    Mechanism("FreeMatch's global threshold", "hparams.ema_momentum", "freematch"),
    Mechanism("SoftMatch's confidence mean and variance", "hparams.ema_momentum", "softmatch"),
    Mechanism("ReMixMatch's distribution alignment", "hparams.alignment_momentum", "remixmatch"),
    Mechanism("Mean Teacher's teacher", "hparams.teacher_decay", "meanteacher"),
    Mechanism("the BatchNorm running statistics", "bn_momentum", new_weight=True),
)


def _value(spec: dict[str, Any], field: str) -> Any:
    node: Any = spec
    for part in field.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def unsettled(spec: dict[str, Any], steps: int | None = None) -> list[tuple[str, float]]:
    """``(label, remaining start weight)`` of each mechanism of the stored ``spec`` still
    weighing its start above ``UNSETTLED_WEIGHT`` after ``steps`` (default: the whole run)."""
    if steps is None:
        steps = int(spec.get("epochs") or 0) * int(spec.get("iters_per_epoch") or 0)
    out = []
    for mechanism in MECHANISMS:
        if mechanism.algorithm not in (None, spec.get("algorithm")):
            continue
        value = _value(spec, mechanism.field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        momentum = 1 - value if mechanism.new_weight else value
        weight = remaining_weight(momentum, steps)
        if weight > UNSETTLED_WEIGHT:
            out.append((mechanism.label, weight))
    return out


def fill_derived(spec: Any) -> None:  # noqa: ANN401 — a RunSpec (which imports this module)
    """Fill what a RunSpec left out and its run decides, in place, so the stored spec says
    what the run used: the momenta and ramps above, the net's BatchNorm momentum sized to the
    run, and USB's N = 3 RandAugment ops under ``strong_augment`` ``usb``."""
    fill_horizons(spec.hparams, spec.total_steps)
    native = catalog.net(spec.net).bn_momentum
    if spec.bn_momentum is None and native is not None:
        object.__setattr__(spec, "bn_momentum", settling_bn_momentum(spec.total_steps, native))
    hparams = spec.hparams
    if (
        spec.strong_augment == "usb"
        and "strong_augment_ops" in type(hparams).model_fields
        and "strong_augment_ops" not in hparams.model_fields_set
    ):
        hparams.strong_augment_ops = 3


def fill_horizons(hparams: Any, total_steps: int) -> None:
    """Fill the hyperparameters a spec left out (None) from the run's length, in place, so the
    stored spec says what the run used."""
    fields = type(hparams).model_fields
    for name in ("ema_momentum", "alignment_momentum"):
        if name in fields and getattr(hparams, name) is None:
            setattr(hparams, name, settling_momentum(total_steps))
    # MixMatch's ramp spans the whole run: full weight early put λu on guesses half wrong
    # (docs/STUDY_fashion_mnist_40.md); the CPU default's 600 steps are the old fixed value.
    if "rampup_iters" in fields and hparams.rampup_iters is None:
        hparams.rampup_iters = total_steps

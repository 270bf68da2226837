"""The spec's ``compile``: which modules run through ``torch.compile``, and what it costs.

The trainer keeps the plain modules (what checkpoints save, what the EMA averages, what
algorithms reach into) and calls compiled wrappers that share their parameters and buffers. A
wrapper's own ``state_dict`` would prefix every key with ``_orig_mod.``; saving the plain
module's instead keeps a checkpoint loadable whether the run that reads it compiles or not.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

COMPILED_PREFIX = "_orig_mod."  # what torch.compile's wrapper puts before its module's keys


def compiled(module: nn.Module, enabled: bool, dynamic: bool | None = None) -> nn.Module:
    """``torch.compile(module)`` (inductor, default mode) when ``enabled``, else ``module``.

    Compiling is lazy: the first call with a new shape, mode (train/eval) or grad setting pays.
    ``dynamic=True`` makes the batch size symbolic at once, for callers that see many sizes
    (evaluation: the labeled set, the splits and every remainder batch); ``None`` is torch's
    default, static until a second size is seen. Compiled graphs live in the process and are
    reused by later modules of the same class, so a second run in one process compiles
    nothing it has compiled before (its logged compile time is then 0).
    """
    if not enabled:
        return module
    return torch.compile(module, dynamic=dynamic)


def plain_state(state: dict[str, Any]) -> dict[str, Any]:
    """A module's state dict with torch.compile's ``_orig_mod.`` prefixes removed, so weights
    saved from a compiled wrapper (a notebook's ``torch.compile(net).state_dict()``) load into
    the plain module."""
    if not any(key.startswith(COMPILED_PREFIX) for key in state):
        return state
    return {key.replace(COMPILED_PREFIX, "", 1): value for key, value in state.items()}


def compile_seconds() -> float | None:
    """Seconds this process has spent compiling so far, by torch's own accounting
    (``torch._dynamo.utils.calculate_time_spent``): Dynamo's graph capture plus the backend's
    compile of every forward graph, and AOTAutograd's compile of the backward graphs (done at
    the first backward). Not included: the compiled code's first runs (kernel warm-up, CUDA
    autotuning), which count as step time. Process-wide: runs compiling in parallel threads of
    one process would each see the other's time. None where this torch has no such accounting.
    """
    try:
        from torch._dynamo.utils import calculate_time_spent

        return float(calculate_time_spent().get("total_wall_time", 0.0))
    except (ImportError, AttributeError) as exc:  # a private API: gone in some later torch
        log.warning("compile time not measured: %s", exc)
        return None

"""The trainer → callback contract, typed: what ``ssl_core.train`` tells its callbacks and when.

A callback implements ``TrainingCallback`` (subclass ``Callback`` to inherit no-op methods and
override only what it needs). The trainer calls, in order:
``on_train_start(TrainStart)`` once (also on a resume), ``on_step(step, total_steps)`` after every
optimiser step, ``should_stop()`` after every step (True ends training at once, keeping the last
checkpoint; ``train`` then returns ``stopped: True``), ``on_epoch_end(EpochEnd)`` after each
epoch's evaluation and checkpoint. The summary in both events is the trainer's own (model
selection on validation): callbacks store it, they never recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class TrainStart:
    total_steps: int
    start_step: int  # > 0 when resuming from a checkpoint
    start_epoch: int
    device: str
    num_params: int
    summary: dict[str, Any] = field(default_factory=dict)  # the checkpoint's, on a resume
    # What produced the run: code, software, device, precision, dataset (ssl_core.environment).
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochEnd:
    epoch: int  # 1-based: the number of epochs done
    step: int
    metrics: dict[str, float]  # every key of ssl_core.contract.metrics this run logs, finite
    summary: dict[str, Any]  # best_val_top1, best_epoch, test_top1_at_best_val, last_test_top1


@runtime_checkable
class TrainingCallback(Protocol):
    def on_train_start(self, start: TrainStart) -> None: ...

    def on_step(self, step: int, total_steps: int) -> None: ...

    def should_stop(self) -> bool: ...

    def on_epoch_end(self, end: EpochEnd) -> None: ...


class Callback:
    """No-op implementation of ``TrainingCallback`` to subclass."""

    def on_train_start(self, start: TrainStart) -> None:
        pass

    def on_step(self, step: int, total_steps: int) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def on_epoch_end(self, end: EpochEnd) -> None:
        pass


def check_callbacks(callbacks: Any) -> list[TrainingCallback]:
    """The callbacks as a list; a TypeError naming the missing methods for one that is not."""
    out = list(callbacks)
    for callback in out:
        if not isinstance(callback, TrainingCallback):
            missing = [
                name
                for name in ("on_train_start", "on_step", "should_stop", "on_epoch_end")
                if not callable(getattr(callback, name, None))
            ]
            raise TypeError(
                f"callback {callback!r} lacks {', '.join(missing)}; subclass "
                "ssl_core.contract.callbacks.Callback and override what you need"
            )
    return out

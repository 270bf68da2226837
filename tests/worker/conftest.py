"""A stand-in for ``ssl_core.train`` that drives the callbacks exactly as the contract says.

It lets the runner and sink tests control epochs, failures and timing; the real trainer is
exercised end to end in tests/e2e.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.store import crud
from app.store.db import get_engine
from app.store.models import Run
from ssl_core.contract.callbacks import EpochEnd, TrainStart
from ssl_core.contract.metrics import check_finite
from ssl_core.contract.summary import update_summary

METRIC_KEYS = ("train/loss", "val/top1", "test/top1")


def epoch_metrics(epoch: int) -> dict[str, float]:
    # val peaks at epoch 2, so "best" and "last" differ in the summary.
    val = {1: 50.0, 2: 70.0, 3: 60.0}.get(epoch, 55.0)
    return {"train/loss": 1.0 / epoch, "val/top1": val, "test/top1": val + 1}


class FakeTrain:
    """Calls the callbacks like ``ssl_core.train``; records what it was called with."""

    def __init__(
        self,
        epochs: int = 3,
        iters_per_epoch: int = 4,
        step_seconds: float = 0.0,
        metrics: Callable[[int], dict[str, float]] = epoch_metrics,
        fail_at_epoch: int | None = None,
        start_epoch: int = 0,
        on_epoch: Callable[[int], None] | None = None,
    ) -> None:
        self.epochs = epochs
        self.iters = iters_per_epoch
        self.step_seconds = step_seconds
        self.metrics = metrics
        self.fail_at_epoch = fail_at_epoch
        self.start_epoch = start_epoch
        self.on_epoch = on_epoch
        self.calls: list[dict[str, Any]] = []

    def __call__(self, spec: dict, out_dir: Path, callbacks: list, **kwargs: Any) -> dict:
        self.calls.append({"spec": spec, "out_dir": out_dir, **kwargs})
        (sink,) = callbacks
        total = self.epochs * self.iters
        step = self.start_epoch * self.iters
        summary: dict[str, Any] = {}
        for epoch in range(1, self.start_epoch + 1):  # what the real checkpoint would hold
            summary = update_summary(summary, epoch, self.metrics(epoch))
        sink.on_train_start(TrainStart(total, step, self.start_epoch, "cpu", 0, summary))
        for epoch in range(self.start_epoch + 1, self.epochs + 1):
            for _ in range(self.iters):
                time.sleep(self.step_seconds)
                step += 1
                sink.on_step(step, total)
                if sink.should_stop():
                    return {**summary, "epochs": epoch - 1, "stopped": True}
            if epoch == self.fail_at_epoch:
                raise ValueError("boom: the fake trainer failed\nsecond line of detail")
            metrics = self.metrics(epoch)
            check_finite(metrics, epoch, step - self.iters + 1, step, 0.03)  # as train does
            summary = update_summary(summary, epoch, metrics)
            sink.on_epoch_end(EpochEnd(epoch, step, metrics, summary))
            if self.on_epoch:
                self.on_epoch(epoch)
        return {**summary, "epochs": self.epochs, "stopped": False, "seconds": 0.1}


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def make_run(engine: Engine) -> Callable[..., int]:
    def make(**spec: Any) -> int:
        with Session(engine) as session:
            run = crud.create_run(session, {"algorithm": "fixmatch", "epochs": 3, **spec})
            return run.id

    return make


def load(engine: Engine, run_id: int) -> Run:
    with Session(engine) as session:
        return session.get(Run, run_id)

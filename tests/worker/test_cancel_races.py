"""A cancel that races a worker's stop ends the run ``cancelled``; a queued run with its cancel
flag set (left by such a race, or by older code) is ended, never sent to the queue again."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import update
from sqlmodel import Session, col

from app.queue import QUEUE
from app.store import crud
from app.store.models import Run, Status, utcnow
from ssl_core.contract.callbacks import TrainStart
from tests.worker.conftest import load
from worker.recovery import requeue_lost_runs
from worker.runner import run_training


def queue_length(settings) -> int:
    return redis.Redis.from_url(settings.redis_url).llen(QUEUE)


def test_a_cancel_just_before_a_worker_stops_ends_cancelled(settings, engine, make_run):
    run_id = make_run()
    stop = threading.Event()
    # No heartbeat reads the flag in between: the cancel lands after the sink's last look.
    quiet = settings.model_copy(update={"heartbeat_seconds": 600})

    def train(spec: dict, out_dir: Path, callbacks: list, **_: Any) -> dict:
        (sink,) = callbacks
        sink.on_train_start(TrainStart(12, 0, 0, "cpu", 0, {}))
        with Session(engine) as session:  # what POST /api/runs/{id}/cancel does
            crud.cancel_run(session, session.get(Run, run_id), settings.stale_after_seconds)
        stop.set()  # the worker is told to stop at the same moment
        return {"epochs": 0, "stopped": True}

    assert run_training(run_id, settings=quiet, train=train, stop_event=stop) == "cancelled"
    run = load(engine, run_id)
    assert run.status == Status.cancelled and run.finished_at is not None
    assert queue_length(settings) == 0  # not sent back for a worker that would refuse it


def flagged_queued_row(engine, run_id: int) -> None:
    """The row older code (or the race) left: queued, cancel flag set, sent long ago."""
    long_ago = utcnow() - timedelta(seconds=600)
    with Session(engine) as session:
        session.exec(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(cancel_requested=True, created_at=long_ago, enqueued_at=long_ago)
        )
        session.commit()


def test_the_watchdog_cancels_a_flagged_queued_run_instead_of_resending_it(
    settings, engine, make_run
):
    flagged, lost = make_run(), make_run()
    flagged_queued_row(engine, flagged)
    with Session(engine) as session:
        session.exec(
            update(Run)
            .where(col(Run.id) == lost)
            .values(enqueued_at=utcnow() - timedelta(seconds=600))
        )
        session.commit()
    assert requeue_lost_runs(settings) == [lost]  # a lost message of a live run is sent again
    assert load(engine, flagged).status == Status.cancelled
    assert load(engine, flagged).finished_at is not None
    assert queue_length(settings) == 1
    assert requeue_lost_runs(settings) == []  # and the next round has nothing to send


def test_a_delivery_of_a_flagged_queued_run_ends_it_cancelled(settings, engine, make_run):
    run_id = make_run()
    flagged_queued_row(engine, run_id)
    assert run_training(run_id, settings=settings) is None  # not trained
    assert load(engine, run_id).status == Status.cancelled

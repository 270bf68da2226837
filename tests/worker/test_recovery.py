"""A starting worker takes over runs whose worker died (stale heartbeat)."""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import update
from sqlmodel import Session, col

from app.models import Run, Status, utcnow
from app.queue import QUEUE
from tests.worker.conftest import FakeTrain, load
from worker.recovery import MAX_RECOVERIES, recover_stale_runs
from worker.runner import run_training


def orphan(engine, run_id: int, seconds_ago: float, **values) -> None:
    """Make the run look like its worker died ``seconds_ago`` seconds ago."""
    beat = utcnow() - timedelta(seconds=seconds_ago)
    with Session(engine) as session:
        session.exec(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(status=Status.running, heartbeat_at=beat, started_at=beat, **values)
        )
        session.commit()


def test_stale_run_without_epochs_is_requeued(settings, engine, make_run):
    run_id = make_run()
    orphan(engine, run_id, seconds_ago=600)
    result = recover_stale_runs(settings)
    assert result.requeued == [run_id]
    run = load(engine, run_id)
    assert run.status == Status.queued and run.recoveries == 1
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 1
    # A second worker starting now finds nothing to do.
    assert recover_stale_runs(settings).requeued == []


def test_fresh_heartbeat_is_left_alone(settings, engine, make_run):
    run_id = make_run()
    orphan(engine, run_id, seconds_ago=1)
    assert recover_stale_runs(settings).requeued == []
    assert load(engine, run_id).status == Status.running


def test_run_with_epochs_and_checkpoint_is_requeued_and_resumes(settings, engine, make_run):
    run_id = make_run()
    run_training(run_id, settings=settings, train=FakeTrain(epochs=2))
    # Pretend the worker died after epoch 2 of 3, leaving its checkpoint.
    orphan(engine, run_id, seconds_ago=600, epoch=2, finished_at=None)
    (settings.run_dir(run_id) / "checkpoint.pt").write_bytes(b"checkpoint")
    assert recover_stale_runs(settings).requeued == [run_id]
    resumed = FakeTrain(epochs=3, start_epoch=2)
    assert run_training(run_id, settings=settings, train=resumed) == Status.succeeded
    run = load(engine, run_id)
    assert run.epoch == 3
    # The summary folds in the epochs stored before the crash: best val was at epoch 2.
    assert run.summary["best_epoch"] == 2 and run.summary["last_test_top1"] == 61.0


def test_run_with_epochs_but_no_checkpoint_fails_with_the_reason(settings, engine, make_run):
    run_id = make_run()
    orphan(engine, run_id, seconds_ago=600, epoch=2)
    assert recover_stale_runs(settings).failed == [run_id]
    run = load(engine, run_id)
    assert run.status == Status.failed
    assert "no checkpoint" in run.error and "checkpoint.pt" in run.error


def test_run_that_keeps_killing_workers_is_failed(settings, engine, make_run):
    run_id = make_run()
    orphan(engine, run_id, seconds_ago=600, recoveries=MAX_RECOVERIES)
    assert recover_stale_runs(settings).failed == [run_id]
    assert load(engine, run_id).error.startswith("WorkerLost: ")


def test_cancel_requested_on_a_dead_run_ends_it_cancelled(settings, engine, make_run):
    run_id = make_run()
    orphan(engine, run_id, seconds_ago=600, cancel_requested=True)
    assert recover_stale_runs(settings).cancelled == [run_id]
    assert load(engine, run_id).status == Status.cancelled

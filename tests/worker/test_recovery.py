"""The watchdog: runs whose worker died (stale heartbeat), queued runs whose message was lost."""

from __future__ import annotations

import json
from datetime import timedelta

import redis
from sqlalchemy import update
from sqlmodel import Session, col

from app.queue import QUEUE, enqueue, queued_run_ids
from app.store.models import Run, Status, utcnow
from tests.conftest import run_folder
from tests.worker.conftest import FakeTrain, load
from worker.recovery import MAX_RECOVERIES, recover_stale_runs, requeue_lost_runs
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
    (run_folder(settings, run_id) / "checkpoint.pt").write_bytes(b"checkpoint")
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


def queued_long_ago(engine, run_id: int, seconds_ago: float) -> None:
    with Session(engine) as session:
        session.exec(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(created_at=utcnow() - timedelta(seconds=seconds_ago))
        )
        session.commit()


def test_queued_run_whose_message_was_lost_is_sent_again_once(settings, engine, make_run):
    lost, waiting, fresh = make_run(), make_run(), make_run()
    for run_id in (lost, waiting):
        queued_long_ago(engine, run_id, seconds_ago=600)
    enqueue(settings.redis_url, waiting)  # its message is still in Redis
    assert requeue_lost_runs(settings) == [lost]
    broker = redis.Redis.from_url(settings.redis_url)
    assert broker.llen(QUEUE) == 2
    assert queued_run_ids(settings.redis_url) == {lost, waiting}
    # Its message is in Redis now: the next round leaves it alone.
    assert requeue_lost_runs(settings) == []
    # `fresh` was stored moments ago; the web server may be sending its message right now.
    assert fresh not in queued_run_ids(settings.redis_url)
    # A message a worker has taken but not yet acknowledged counts as live too.
    broker.delete(QUEUE)
    message = {"body": "", "headers": {"task": "matchlab.train_run"}}  # no run id in it
    broker.hset("unacked", "tag-1", json.dumps([message, "", QUEUE]))
    assert queued_run_ids(settings.redis_url) == set()  # not a train message with a run id
    enqueue(settings.redis_url, lost)
    raw = broker.rpop(QUEUE)
    broker.hset("unacked", "tag-2", json.dumps([json.loads(raw), QUEUE, QUEUE]))
    assert queued_run_ids(settings.redis_url) == {lost}


def test_no_requeue_while_redis_is_down(settings, engine, make_run):
    from app.stack.redis_server import free_port

    run_id = make_run()
    queued_long_ago(engine, run_id, seconds_ago=600)
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    assert requeue_lost_runs(offline) == []
    assert load(engine, run_id).status == Status.queued

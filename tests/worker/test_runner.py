"""run_training: claim, stream epochs, finish; failures, duplicates, cancel and shutdown."""

from __future__ import annotations

import json
import threading

import redis
from sqlmodel import Session, func, select

from app.queue import QUEUE
from app.store import crud
from app.store.models import MetricPoint, Status
from ssl_core.contract.errors import TrainingDiverged
from tests.worker.conftest import METRIC_KEYS, FakeTrain, load
from worker.runner import run_training


def point_count(engine, run_id: int) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(MetricPoint.run_id == run_id)
        return session.exec(query).one()


def test_run_succeeds_with_one_point_per_key_per_epoch(settings, engine, make_run):
    run_id = make_run()
    fake = FakeTrain(epochs=3)
    assert run_training(run_id, settings=settings, train=fake) == Status.succeeded
    run = load(engine, run_id)
    assert run.status == Status.succeeded
    assert (run.epoch, run.step) == (3, 12)
    assert run.started_at is not None and run.finished_at is not None
    # Model selection on validation: best val at epoch 2 (70), test there 71; last test 61.
    assert run.summary["best_val_top1"] == 70.0
    assert run.summary["best_epoch"] == 2
    assert run.summary["test_top1_at_best_val"] == 71.0
    assert run.summary["last_test_top1"] == 61.0
    assert point_count(engine, run_id) == 3 * len(METRIC_KEYS)
    # The trainer got the stored spec, the run's folder under MATCHLAB_HOME and the data folder.
    assert fake.calls[0]["out_dir"] == settings.home / "runs" / run.uid
    assert fake.calls[0]["uid"] == run.uid and len(run.uid) == 32
    assert fake.calls[0]["spec"]["algorithm"] == "fixmatch"
    assert fake.calls[0]["data_dir"] == settings.home / "data"


def test_duplicate_delivery_does_nothing(settings, engine, make_run):
    run_id = make_run()
    run_training(run_id, settings=settings, train=FakeTrain())
    second = FakeTrain()
    assert run_training(run_id, settings=settings, train=second) is None
    assert second.calls == []
    assert point_count(engine, run_id) == 3 * len(METRIC_KEYS)


def test_deliveries_arriving_together_train_the_run_once(settings, engine, make_run):
    # Eight workers handed the same run at the same moment: one claim wins, on a real SQLite file.
    run_id = make_run()
    fakes = [FakeTrain(step_seconds=0.01) for _ in range(8)]
    start = threading.Barrier(len(fakes))
    results: list[str | None] = []

    def deliver(fake: FakeTrain) -> None:
        start.wait()
        results.append(run_training(run_id, settings=settings, train=fake))

    threads = [threading.Thread(target=deliver, args=(fake,)) for fake in fakes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None] * 7 + [Status.succeeded]
    assert sum(len(fake.calls) for fake in fakes) == 1
    assert point_count(engine, run_id) == 3 * len(METRIC_KEYS)


def test_missing_run_does_nothing(settings):
    assert run_training(12345, settings=settings, train=FakeTrain()) is None


def test_exception_fails_the_run_with_a_readable_error(settings, engine, make_run):
    run_id = make_run()
    assert run_training(run_id, settings=settings, train=FakeTrain(fail_at_epoch=2)) == "failed"
    run = load(engine, run_id)
    first_line = run.error.splitlines()[0]
    assert first_line == "ValueError: boom: the fake trainer failed"
    assert "Traceback" in run.error and "second line of detail" in run.error
    assert point_count(engine, run_id) == len(METRIC_KEYS)  # epoch 1 is kept


def test_training_diverged_message_is_kept(settings, engine, make_run):
    def diverge(spec, out_dir, callbacks, **kwargs):
        raise TrainingDiverged("loss became nan at step 17")

    run_id = make_run()
    run_training(run_id, settings=settings, train=diverge)
    run = load(engine, run_id)
    assert run.status == Status.failed
    assert run.error.splitlines()[0] == "TrainingDiverged: loss became nan at step 17"


def test_nan_loss_metric_fails_the_run(settings, engine, make_run):
    def metrics(epoch):
        return {"train/loss": float("nan") if epoch == 2 else 0.5, "val/top1": 10.0}

    run_id = make_run()
    run_training(run_id, settings=settings, train=FakeTrain(metrics=metrics))
    run = load(engine, run_id)
    assert run.status == Status.failed
    assert run.error.splitlines()[0].startswith(
        "TrainingDiverged: train/loss became nan during epoch 2"
    )
    assert point_count(engine, run_id) == 2


def test_nan_accuracy_is_skipped_not_fatal(settings, engine, make_run):
    def metrics(epoch):
        return {"train/loss": 0.5, "train/pseudo_label_acc": float("nan")}

    run_id = make_run()
    assert run_training(run_id, settings=settings, train=FakeTrain(metrics=metrics)) == "succeeded"
    assert point_count(engine, run_id) == 3


def test_cancel_while_running_stops_within_seconds_and_keeps_metrics(settings, engine, make_run):
    run_id = make_run()

    def cancel_after_first_epoch(epoch: int) -> None:
        if epoch == 1:
            with Session(engine) as session:
                crud.cancel_run(session, crud.runs_by_ids(session, [run_id])[0], 60)

    # 3 epochs × 40 steps × 10 ms: without the cancel this takes over a second.
    fake = FakeTrain(iters_per_epoch=40, step_seconds=0.01, on_epoch=cancel_after_first_epoch)
    assert run_training(run_id, settings=settings, train=fake) == Status.cancelled
    run = load(engine, run_id)
    assert run.status == Status.cancelled and run.cancel_requested
    assert run.epoch == 1
    assert point_count(engine, run_id) == len(METRIC_KEYS)


def test_cancel_seen_between_epochs_through_the_heartbeat(settings, engine, make_run):
    run_id = make_run()
    # One long epoch: only the heartbeat (every 0.1 s in the test settings) can see the flag.
    fake = FakeTrain(epochs=1, iters_per_epoch=400, step_seconds=0.01)
    timer = threading.Timer(0.5, lambda: _cancel(engine, run_id))
    timer.start()
    assert run_training(run_id, settings=settings, train=fake) == Status.cancelled
    run = load(engine, run_id)
    assert 0 < run.step < 400  # stopped midway, and the last step reached the row


def _cancel(engine, run_id):
    with Session(engine) as session:
        crud.cancel_run(session, crud.runs_by_ids(session, [run_id])[0], 60)


def test_worker_shutdown_requeues_the_run(settings, engine, make_run):
    run_id = make_run()
    stop = threading.Event()
    stop.set()
    assert run_training(run_id, settings=settings, train=FakeTrain(), stop_event=stop) == "queued"
    run = load(engine, run_id)
    assert run.status == Status.queued and run.finished_at is None
    queue = redis.Redis.from_url(settings.redis_url)
    assert queue.llen(QUEUE) == 1  # back in the queue, to resume from the checkpoint


def test_heartbeat_writes_step_and_publishes_progress(settings, engine, make_run):
    run_id = make_run()
    client = redis.Redis.from_url(settings.redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(f"matchlab:run:{run_id}")
    seen_steps = []

    def watch(epoch: int) -> None:
        seen_steps.append(load(engine, run_id).step)

    fake = FakeTrain(epochs=2, iters_per_epoch=30, step_seconds=0.01, on_epoch=watch)
    run_training(run_id, settings=settings, train=fake)
    events = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            events.append(message["data"])
    names = [json.loads(e)["event"] for e in events]
    assert names[0] == "status" and names[-1] == "status"
    assert names.count("epoch") == 2
    assert "progress" in names
    assert seen_steps == [30, 60]

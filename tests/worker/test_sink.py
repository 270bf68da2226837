"""The sink's handling of a resume's replayed epoch."""

from __future__ import annotations

from sqlmodel import Session, select

from app.store.models import MetricPoint
from ssl_core.contract.callbacks import EpochEnd, TrainStart
from ssl_core.contract.summary import update_summary
from tests.worker.conftest import FakeTrain
from worker.runner import claim_run
from worker.sink import RunSink


def test_resume_replaces_points_after_the_checkpoint_and_the_replayed_epoch(
    settings, engine, make_run
):
    run_id = make_run()
    claim_run(engine, run_id, "test")
    sink = RunSink(run_id, engine, settings.redis_url)
    FakeTrain(epochs=3)(spec={}, out_dir=settings.home, callbacks=[sink])
    # A resume from the epoch-1 checkpoint: epochs 2-3 were lost, epoch 1 is replayed.
    sink = RunSink(run_id, engine, settings.redis_url)
    checkpoint_summary = update_summary({}, 1, {"val/top1": 50.0, "test/top1": 51.0})
    sink.on_train_start(TrainStart(12, 4, 1, "cpu", 0, checkpoint_summary))
    metrics = {"train/loss": 1.0, "val/top1": 50.0, "test/top1": 51.0}
    sink.on_epoch_end(EpochEnd(1, 4, metrics, checkpoint_summary))
    with Session(engine) as session:
        rows = session.exec(
            select(MetricPoint.epoch, MetricPoint.key, MetricPoint.value).where(
                MetricPoint.run_id == run_id
            )
        ).all()
    # Epoch 1 is stored once (as first written), epochs 2 and 3 are gone until trained again.
    assert sorted(rows) == [(1, "test/top1", 51.0), (1, "train/loss", 1.0), (1, "val/top1", 50.0)]
    assert sink.summary["best_epoch"] == 1 and sink.summary["last_test_top1"] == 51.0


def test_replayed_epoch_that_never_reached_the_store_is_added(settings, engine, make_run):
    run_id = make_run()
    claim_run(engine, run_id, "test")
    sink = RunSink(run_id, engine, settings.redis_url)
    sink.on_train_start(TrainStart(12, 4, 1, "cpu", 0, {}))
    sink.on_epoch_end(EpochEnd(1, 4, {"train/loss": 0.5}, update_summary({}, 1, {})))
    with Session(engine) as session:
        rows = session.exec(select(MetricPoint.epoch, MetricPoint.value)).all()
    assert rows == [(1, 0.5)]

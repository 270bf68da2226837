"""The sink's summary arithmetic and its handling of a resume's replayed epoch."""

from __future__ import annotations

from sqlmodel import Session, select

from app.models import MetricPoint
from tests.worker.conftest import FakeTrain
from worker.runner import claim_run
from worker.sink import RunSink, update_summary


def test_summary_selects_on_validation_never_on_test():
    summary = {}
    summary = update_summary(summary, 1, {"val/top1": 50.0, "test/top1": 90.0})
    summary = update_summary(summary, 2, {"val/top1": 60.0, "test/top1": 55.0})
    summary = update_summary(summary, 3, {"val/top1": 60.0, "test/top1": 58.0})  # a tie: keep 2
    summary = update_summary(summary, 4, {"val/top1": 40.0, "test/top1": 95.0})
    assert summary == {
        "best_val_top1": 60.0,
        "best_epoch": 2,
        "test_top1_at_best_val": 55.0,
        "last_test_top1": 95.0,
        "epochs": 4,
    }


def test_resume_replaces_points_after_the_checkpoint_and_the_replayed_epoch(
    settings, engine, make_run
):
    run_id = make_run()
    claim_run(engine, run_id, "test")
    sink = RunSink(run_id, engine, settings.redis_url)
    FakeTrain(epochs=3)(spec={}, out_dir=settings.home, callbacks=[sink])
    # A resume from the epoch-1 checkpoint: epochs 2-3 were lost, epoch 1 is replayed.
    sink = RunSink(run_id, engine, settings.redis_url)
    sink.on_train_start({"total_steps": 12, "start_step": 4, "start_epoch": 1})
    sink.on_epoch_end(1, 4, {"train/loss": 1.0, "val/top1": 50.0, "test/top1": 51.0})
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
    sink.on_train_start({"total_steps": 12, "start_step": 4, "start_epoch": 1})
    sink.on_epoch_end(1, 4, {"train/loss": 0.5})
    with Session(engine) as session:
        rows = session.exec(select(MetricPoint.epoch, MetricPoint.value)).all()
    assert rows == [(1, 0.5)]

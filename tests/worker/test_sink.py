"""The sink's handling of a resume's replayed epoch."""

from __future__ import annotations

from sqlmodel import Session, select

from app.store.models import MetricPoint, Run
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


def test_a_run_logging_more_keys_than_the_cap_fails_naming_it(settings, engine, make_run):
    from app.store import limits
    from worker.runner import run_training

    def per_sample(epoch):  # a plugin that logs one key per unlabeled sample
        return {"val/top1": 1.0, **{f"train/sample/{i}": 0.5 for i in range(5000)}}

    run_id = make_run()
    assert run_training(run_id, settings=settings, train=FakeTrain(metrics=per_sample)) == "failed"
    with Session(engine) as session:
        run = session.get(Run, run_id)
        count = len(session.exec(select(MetricPoint.key).where(MetricPoint.run_id == run_id)).all())
    assert run.error.splitlines()[0] == (
        f"TooManyMetricKeys: epoch 1 logged 5001 metric keys, at most {limits.MAX_KEYS_PER_EPOCH} "
        "per epoch (app/store/limits.py); log per-sample or per-step values to a file instead"
    )
    assert count == 0  # refused before anything was written


def test_new_keys_every_epoch_hit_the_per_run_cap(settings, engine, make_run):
    from app.store import limits
    from worker.runner import run_training

    width = limits.MAX_KEYS_PER_EPOCH // 2

    def drifting(epoch):  # fresh keys each epoch: fine per epoch, too many in all
        return {f"train/step/{epoch}/{i}": 0.5 for i in range(width)}

    run_id = make_run()
    fake = FakeTrain(epochs=6, metrics=drifting)
    assert run_training(run_id, settings=settings, train=fake) == "failed"
    with Session(engine) as session:
        run = session.get(Run, run_id)
    assert f"at most {limits.MAX_KEYS_PER_RUN} per run" in run.error.splitlines()[0]


def test_cifar100_flexmatch_keys_pass(settings, engine, make_run):
    from ssl_core import catalog
    from worker.runner import run_training

    classes = catalog.dataset("cifar100").num_classes
    families = ("train/threshold/", "train/pseudo_label_share/", "train/class_acc/")

    def flexmatch(epoch):
        fixed = {"train/loss": 1.0, "val/top1": 10.0 + epoch, "test/top1": 9.0}
        return fixed | {f"{f}{c}": 0.5 for f in families for c in range(classes)}

    run_id = make_run()
    assert run_training(run_id, settings=settings, train=FakeTrain(metrics=flexmatch)) == (
        "succeeded"
    )

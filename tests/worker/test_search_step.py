"""The worker advances a search when a run of it ends: the next trial is asked and queued, a
failed run fails its trial and the search goes on, and the watchdog catches up on a search
whose worker died between a run ending and the next trial being asked."""

from __future__ import annotations

import redis
from sqlmodel import Session, select

from app.domain.search_control import create_search
from app.queue import QUEUE, queued_run_ids
from app.store.models import Run, Status, Sweep, Trial
from ssl_core.contract.summary import BEST_VAL_TOP1
from tests.worker.conftest import FakeTrain
from worker.runner import run_training
from worker.search_step import advance_searches

SPACE = {"hparams.threshold": {"type": "uniform", "low": 0.5, "high": 0.99}}


def start(engine, configs: int = 3) -> int:
    with Session(engine) as session:
        sweep, _, _ = create_search(
            session, "random", {"algorithm": "fixmatch", "epochs": 3}, SPACE, [0, 1],
            {"configs": configs}, parallel=1,
        )  # fmt: skip
        return sweep.id


def queued(engine, sweep_id: int) -> list[int]:
    with Session(engine) as session:
        query = select(Run.id).where(Run.sweep_id == sweep_id, Run.status == Status.queued)
        return list(session.exec(query.order_by(Run.id)))


def trials(engine, sweep_id: int) -> list[Trial]:
    with Session(engine) as session:
        return list(session.exec(select(Trial).where(Trial.sweep_id == sweep_id)))


def test_each_ended_trial_asks_for_the_next_and_a_failure_does_not_stop_it(settings, engine):
    sweep_id = start(engine)
    fails_once = FakeTrain(fail_at_epoch=2)
    for turn in range(10):
        ids = queued(engine, sweep_id)
        if not ids:
            break
        for run_id in ids:  # the first trial's first seed fails
            run_training(run_id, settings=settings, train=fails_once if turn == 0 else FakeTrain())
            fails_once = FakeTrain()
    got = sorted(trials(engine, sweep_id), key=lambda t: t.number)
    assert [t.state for t in got] == ["failed", "complete", "complete"]
    assert "boom" in got[0].reason
    assert got[1].objective == 70.0  # FakeTrain's best val top-1, the same on both seeds
    with Session(engine) as session:
        assert session.get(Sweep, sweep_id).state == "finished"
    assert sum(len(t.run_ids) for t in got) == 6


def test_the_watchdog_asks_for_a_trial_a_dead_worker_did_not(settings, engine):
    sweep_id = start(engine)
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(QUEUE)
    first = queued(engine, sweep_id)
    # The runs end with no worker to advance the search (as if it died right after).
    with Session(engine) as session:
        for run in session.exec(select(Run).where(Run.sweep_id == sweep_id)):
            run.status, run.summary = Status.succeeded, {BEST_VAL_TOP1: 60.0}
            session.add(run)
        session.commit()
    assert len(trials(engine, sweep_id)) == 1
    made = advance_searches(settings)
    assert len(made) == 2 and not set(made) & set(first)
    assert set(made) <= set(queued_run_ids(settings.redis_url))
    assert advance_searches(settings) == []  # once: asking again makes nothing
    assert len(trials(engine, sweep_id)) == 2


def test_a_collapsed_run_ends_pruned_and_the_search_goes_on(settings, engine):
    from ssl_core.contract.metrics import MASK_RATIO
    from tests.worker.conftest import epoch_metrics

    with Session(engine) as session:
        sweep, _, _ = create_search(
            session, "random", {"algorithm": "fixmatch", "epochs": 6}, SPACE, [0],
            {"configs": 2}, 1, {"method": "none", "patience": 2, "min_step": 0},
        )  # fmt: skip
    (run_id,) = queued(engine, sweep.id)

    def collapsed(epoch: int) -> dict[str, float]:
        return {**epoch_metrics(epoch), MASK_RATIO: 0.0}

    def watchdog(epoch: int) -> None:
        advance_searches(settings)  # what the worker's periodic check does

    fake = FakeTrain(epochs=6, iters_per_epoch=20, step_seconds=0.005, metrics=collapsed,
                     on_epoch=watchdog)  # fmt: skip
    assert run_training(run_id, settings=settings, train=fake) == Status.pruned
    with Session(engine) as session:
        run = session.get(Run, run_id)
        assert 2 <= run.epoch < 6
        assert run.stop_reason == "stopped at step 40: mask ratio 0.00 for 2 evaluations (seed 0)"
    got = sorted(trials(engine, sweep.id), key=lambda t: t.number)
    assert [t.state for t in got] == ["pruned", "running"]
    assert got[0].reason == run.stop_reason

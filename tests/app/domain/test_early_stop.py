"""Early stopping of a search from its stored metric points: ASHA judges a configuration only
on the seeds it shares with the others at a rung, and a collapsed run (mask ratio ≈ 0 after the
warm-up) is stopped with the reason in words; a stopped trial is recorded and the search goes
on."""

from __future__ import annotations

from sqlmodel import Session, select

from app.domain.early_stop import apply_stops, min_step
from app.domain.search import advance
from app.domain.search_control import create_search
from app.store.models import MetricPoint, Run, Status, Trial
from ssl_core.contract.metrics import MASK_RATIO, VAL_TOP1
from tests.app.conftest import set_run

SPACE = {"hparams.threshold": {"type": "uniform", "low": 0.5, "high": 0.99}}
BASE = {"algorithm": "fixmatch", "epochs": 9, "iters_per_epoch": 10}


def start(engine, early_stop, parallel=3, configs=6) -> tuple[int, list[Trial]]:
    with Session(engine) as session:
        sweep, _, _ = create_search(
            session, "random", BASE, SPACE, [0, 1], {"configs": configs}, parallel, early_stop
        )
        trials = list(session.exec(select(Trial).where(Trial.sweep_id == sweep.id)))
    return sweep.id, sorted(trials, key=lambda t: t.number)


def points(engine, run_id: int, key: str, values: list[float]) -> None:
    """``values`` as evaluations 1.. at steps 10, 20, ...; the run is training."""
    set_run(engine, run_id, status=Status.running)
    with Session(engine) as session:
        session.add_all(
            MetricPoint(run_id=run_id, key=key, epoch=i, step=10 * i, wall_time=0.0, value=v)
            for i, v in enumerate(values, start=1)
        )
        session.commit()


def load(engine, run_id: int) -> Run:
    with Session(engine) as session:
        return session.get(Run, run_id)


def test_asha_stops_the_weak_configuration_only_on_the_same_seeds(client, engine):
    # Rungs at steps 10, 20 and 40 (min_step 10, reduction 2; the runs are 90 steps).
    early_stop = {"method": "asha", "min_step": 10, "reduction": 2, "collapse": False}
    sweep_id, (good, weak, unseen) = start(engine, early_stop)
    for seed, run_id in enumerate(good.run_ids):
        points(engine, run_id, VAL_TOP1, [60, 80 + seed, 70])  # a dip after the peak: jitter
    for run_id in weak.run_ids:
        points(engine, run_id, VAL_TOP1, [60, 50, 55])
    # The third has only seed 0 past step 10: at rung 20 it is neither judged nor counted
    # (counted on seed 0 alone, it would have kept the weak one in the top half).
    points(engine, unseen.run_ids[0], VAL_TOP1, [30, 31, 32])
    points(engine, unseen.run_ids[1], VAL_TOP1, [30])
    stops = apply_stops(engine, sweep_id)
    assert set(stops) == {weak.id, unseen.id}
    assert stops[weak.id] == (
        "stopped at step 20: mean best val top-1 60.0 over its seeds, "
        "below the top 1 of 2 configurations at this rung (80.5)"
    )
    assert stops[unseen.id].startswith("stopped at step 10: mean best val top-1 30.0")
    for run_id in weak.run_ids:
        run = load(engine, run_id)
        assert run.cancel_requested and run.stop_reason == stops[weak.id]
    assert not any(load(engine, i).cancel_requested for i in good.run_ids)
    assert apply_stops(engine, sweep_id).keys() == stops.keys()  # asked again: nothing new
    # The workers stop them: pruned, the trials recorded as pruned and new ones asked for.
    for run_id in weak.run_ids + unseen.run_ids:
        set_run(engine, run_id, status=Status.pruned)
    made = advance(engine, sweep_id)
    assert len(made) == 2 * 2
    got = client.get(f"/api/sweeps/{sweep_id}").json()["trials"]
    assert [t["state"] for t in got[:3]] == ["running", "pruned", "pruned"]
    assert got[1]["reason"] == stops[weak.id] and got[1]["objective"] is None


def test_a_collapsed_run_is_stopped_after_the_warm_up_with_the_reason(engine):
    sweep_id, trials = start(engine, {"method": "none", "patience": 3, "min_step": 20}, parallel=1)
    first, second = trials[0].run_ids
    points(engine, first, MASK_RATIO, [0.0, 0.0, 0.5, 0.0, 0.0])  # recovered once: not yet
    assert apply_stops(engine, sweep_id) == {}
    points(engine, second, MASK_RATIO, [0.0, 0.3, 0.001, 0.0, 0.0])
    (reason,) = apply_stops(engine, sweep_id).values()
    assert reason == "stopped at step 50: mask ratio 0.00 for 3 evaluations (seed 1)"
    assert load(engine, second).stop_reason == reason


def test_min_step_waits_for_the_unlabeled_ramp_up():
    spec = {"epochs": 10, "iters_per_epoch": 100, "hparams": {"rampup_iters": 600}}
    assert min_step(spec, {}) == 600
    assert min_step({**spec, "hparams": {"unlabeled_warmup": 0.4}}, {}) == 400
    assert min_step({**spec, "hparams": {}}, {}) == 250  # a quarter of the run at least
    assert min_step(spec, {"min_step": 50}) == 50


def test_a_bad_early_stop_is_refused_naming_the_field(client):
    body = {
        "method": "random", "base": BASE, "space": SPACE, "seeds": [0], "budget": {"configs": 2},
        "early_stop": {"method": "hyperband", "patience": 0},
    }  # fmt: skip
    detail = client.post("/api/sweeps", json=body).json()["detail"]
    assert {d["field"] for d in detail} == {"early_stop.method", "early_stop.patience"}

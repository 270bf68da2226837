"""Random and TPE searches through the API: checked bodies, trials asked as earlier ones end,
seeds first-class, repeatable, never duplicated, and steerable (pause, resume, extend, stop)."""

from __future__ import annotations

import math
import threading

import pytest
import redis
from sqlmodel import Session, func, select

from app.domain.search import advance
from app.queue import QUEUE
from app.store.models import Run, Status, Sweep, Trial
from ssl_core.contract.summary import BEST_VAL_TOP1
from tests.app.conftest import set_run

SPACE = {
    "lr": {"type": "log_uniform", "low": 1e-4, "high": 1.0},
    "hparams.threshold": {"type": "uniform", "low": 0.5, "high": 0.99},
    "hparams.unlabeled_weight": {"type": "choice", "values": [0.5, 1, 2]},
}


def body(**overrides):
    return {
        "name": "fixmatch lr/τ",
        "method": "tpe",
        "base": {"algorithm": "fixmatch", "epochs": 2},
        "space": SPACE,
        "seeds": [0, 1, 2],
        "budget": {"configs": 4},
        "parallel": 2,
        **overrides,
    }


def score(spec: dict) -> float:
    """A made-up validation accuracy, peaking at lr 0.03 and threshold 0.95."""
    return (
        90 - 5 * abs(math.log10(spec["lr"] / 0.03)) - 40 * abs(spec["hparams"]["threshold"] - 0.95)
    )


def finish(engine, sweep_id: int, fail=lambda spec: False) -> list[int]:
    """Every unfinished run of the sweep ends (succeeded with ``score``, or failed), then the
    search advances, as the worker does when a run ends; the new runs."""
    with Session(engine) as session:
        runs = session.exec(
            select(Run).where(Run.sweep_id == sweep_id, Run.status == Status.queued)
        ).all()
    for run in runs:
        if fail(run.spec):
            set_run(engine, run.id, status=Status.failed, error="ValueError: boom\n\ntrace")
        else:
            summary = {BEST_VAL_TOP1: score(run.spec) + run.spec["seed"]}
            set_run(engine, run.id, status=Status.succeeded, summary=summary)
    return advance(engine, sweep_id)


def run_to_end(client, engine, sweep_id: int, fail=lambda spec: False) -> dict:
    for _ in range(100):
        if not finish(engine, sweep_id, fail):
            break
    return client.get(f"/api/sweeps/{sweep_id}").json()


def count(engine, table) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_a_search_makes_its_first_trials_on_every_seed(client, engine, settings):
    response = client.post("/api/sweeps", json=body())
    assert response.status_code == 201, response.text
    sweep = response.json()
    assert (sweep["method"], sweep["state"]) == ("tpe", "running")
    # parallel 2: two configurations, each on the three seeds.
    assert [t["number"] for t in sweep["trials"]] == [0, 1]
    assert len(sweep["runs"]) == 6
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 6
    for trial in sweep["trials"]:
        assert [r["seed"] for r in trial["runs"]] == [0, 1, 2]
        assert set(trial["params"]) == set(SPACE)
        assert 1e-4 <= trial["params"]["lr"] <= 1.0
        assert trial["params"]["hparams.unlabeled_weight"] in (0.5, 1, 2)
    run = client.get(f"/api/runs/{sweep['trials'][0]['runs'][1]['id']}").json()
    params = sweep["trials"][0]["params"]
    assert run["spec"]["lr"] == params["lr"] and run["spec"]["seed"] == 1
    assert run["spec"]["hparams"]["threshold"] == params["hparams.threshold"]
    assert run["spec"]["epochs"] == 2  # the base spec's
    assert "val" in sweep["objective"] and "test" not in sweep["objective"]


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_a_search_runs_to_its_budget_and_repeats_with_the_same_seed(client, engine, method):
    first = client.post("/api/sweeps", json=body(method=method, sampler_seed=7)).json()
    done = run_to_end(client, engine, first["id"])
    assert done["state"] == "finished"
    assert [t["number"] for t in done["trials"]] == [0, 1, 2, 3]
    assert all(t["state"] == "complete" for t in done["trials"])
    assert len(done["runs"]) == 4 * 3
    # The objective is the mean over the seeds (the made-up score plus 0, 1, 2).
    for trial in done["trials"]:
        spec = {
            "lr": trial["params"]["lr"],
            "hparams": {"threshold": trial["params"]["hparams.threshold"]},
        }
        assert trial["objective"] == pytest.approx(score(spec) + 1)
    again = client.post("/api/sweeps", json=body(method=method, sampler_seed=7)).json()
    repeated = run_to_end(client, engine, again["id"])
    assert [t["params"] for t in repeated["trials"]] == [t["params"] for t in done["trials"]]
    other = client.post("/api/sweeps", json=body(method=method, sampler_seed=8)).json()
    assert other["trials"][0]["params"] != done["trials"][0]["params"]


def test_a_failed_trial_is_recorded_and_the_search_goes_on(client, engine):
    sweep = client.post("/api/sweeps", json=body(method="random", parallel=1)).json()
    fail_first = {"done": False}

    def fail(spec: dict) -> bool:  # seed 1 of the first trial fails
        if not fail_first["done"] and spec["seed"] == 1:
            fail_first["done"] = True
            return True
        return False

    done = run_to_end(client, engine, sweep["id"], fail)
    states = [t["state"] for t in done["trials"]]
    assert states == ["failed", "complete", "complete", "complete"]
    assert done["state"] == "finished"
    failed = done["trials"][0]
    assert (
        failed["objective"] is None and "seed 1" in failed["reason"] and "boom" in failed["reason"]
    )


def test_asking_at_once_from_many_processes_makes_no_duplicate_trial(client, engine):
    sweep = client.post("/api/sweeps", json=body(method="random", parallel=3)).json()
    with Session(engine) as session:
        for run in session.exec(select(Run).where(Run.sweep_id == sweep["id"])):
            run.status, run.summary = Status.succeeded, {BEST_VAL_TOP1: 50.0}
            session.add(run)
        session.commit()
    start = threading.Barrier(6)
    made: list[list[int]] = []

    def ask() -> None:
        start.wait()
        made.append(advance(engine, sweep["id"]))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Three finished trials freed three places, filled once: trial 3 (the last of 4) alone.
    assert sorted(len(m) for m in made) == [0] * 5 + [3]
    got = client.get(f"/api/sweeps/{sweep['id']}").json()
    assert [t["number"] for t in got["trials"]] == [0, 1, 2, 3]
    assert count(engine, Run) == 4 * 3


def test_pause_resume_extend_and_stop(client, engine, settings):
    sweep = client.post("/api/sweeps", json=body(method="random", parallel=1)).json()
    sid = sweep["id"]
    assert client.post(f"/api/sweeps/{sid}/pause").json()["state"] == "paused"
    assert finish(engine, sid) == []  # paused: the trial is recorded, no new one
    paused = client.get(f"/api/sweeps/{sid}").json()
    assert [t["state"] for t in paused["trials"]] == ["complete"]
    resumed = client.post(f"/api/sweeps/{sid}/resume").json()
    assert resumed["state"] == "running" and len(resumed["trials"]) == 2
    done = run_to_end(client, engine, sid)
    assert done["state"] == "finished" and len(done["trials"]) == 4
    smaller = client.post(f"/api/sweeps/{sid}/extend", json={"configs": 3})
    assert smaller.status_code == 422 and smaller.json()["detail"][0]["field"] == "configs"
    extended = client.post(f"/api/sweeps/{sid}/extend", json={"configs": 6}).json()
    assert extended["state"] == "running" and len(extended["trials"]) == 5
    stopped = client.post(f"/api/sweeps/{sid}/stop").json()
    assert stopped["state"] == "stopped"
    assert stopped["trials"][-1]["state"] == "failed"  # its runs were cancelled
    assert {r["status"] for r in stopped["trials"][-1]["runs"]} == {"cancelled"}
    assert finish(engine, sid) == []
    assert client.post(f"/api/sweeps/{sid}/resume").status_code == 409
    grid = client.post("/api/sweeps", json={"base": {"algorithm": "fixmatch"}}).json()
    assert client.post(f"/api/sweeps/{grid['id']}/pause").status_code == 409


def test_a_steps_budget_stops_asking_before_it_is_overspent(client, engine):
    # Each configuration costs 2 epochs × 30 steps × 3 seeds = 180 steps: 500 buys two.
    sweep = client.post("/api/sweeps", json=body(method="random", budget={"steps": 500})).json()
    done = run_to_end(client, engine, sweep["id"])
    assert len(done["trials"]) == 2 and done["state"] == "finished"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"space": {**SPACE, "hparams.tau": {"type": "uniform", "low": 0, "high": 1}}},
         "space.hparams.tau", "unknown field"),
        ({"space": {"lr": {"type": "uniform", "low": 0.1, "high": 0.1}}}, "space.lr", "below"),
        ({"space": {"lr": {"type": "log_uniform", "low": 0, "high": 1}}}, "space.lr.low", "above 0"),
        ({"space": {"lr": {"type": "choice"}}}, "space.lr.values", "needs values"),
        ({"space": {"lr": {"type": "normal"}}}, "space.lr.type", "log_uniform"),
        ({"space": {"hparams.threshold": {"type": "uniform", "low": 0.5, "high": 1.5}}},
         "space.hparams.threshold", "refused"),
        ({"budget": None}, "budget", "configs"),
        ({"budget": {"configs": 0}}, "budget.configs", "1 to"),
        ({"parallel": 0}, "parallel", "1 or more"),
        ({"seeds": []}, "seeds", "seeds"),
        ({"method": "bayes"}, "method", "grid, random, tpe"),
    ],
)  # fmt: skip
def test_a_bad_search_is_refused_naming_the_field(client, engine, change, field, words):
    response = client.post("/api/sweeps", json=body(**change))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(d["field"] == field and words in d["message"] for d in detail), detail
    assert count(engine, Sweep) == 0 and count(engine, Run) == 0 and count(engine, Trial) == 0


def test_a_grid_refuses_a_space(client, engine):
    grid = {"base": {"algorithm": "fixmatch"}, "grid": {"lr": [0.1]}, "space": SPACE}
    response = client.post("/api/sweeps", json=grid)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "space"


def test_the_sweep_page_shows_the_trials(settings, engine):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as pages:
        sweep = pages.post("/api/sweeps", json=body(method="random", parallel=1)).json()
        finish(engine, sweep["id"], fail=lambda spec: spec["seed"] == 2)
        page = pages.get(f"/sweeps/{sweep['id']}")
    assert page.status_code == 200
    table = page.text.split('id="trials-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 2  # heading, the failed trial 0 and trial 1 training
    assert "failed" in table and "seed 2" in table and "boom" in table
    assert "lr</code>=" in table


def test_a_retried_search_with_its_key_is_made_once(client, engine, settings):
    headers = {"Idempotency-Key": "search-1"}
    first = client.post("/api/sweeps", json=body(), headers=headers)
    again = client.post("/api/sweeps", json=body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and len(again.json()["trials"]) == 2
    assert count(engine, Sweep) == 1 and count(engine, Run) == 6
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 6
    other = client.post("/api/sweeps", json=body(parallel=1), headers=headers)
    assert other.status_code == 422 and other.json()["detail"][0]["field"] == "Idempotency-Key"

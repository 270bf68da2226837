"""Searches through the real stack: a Celery worker training digits with ssl_core, the web
server, Redis; a worker and the web app killed mid-search lose no trial and make no duplicate."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.e2e.conftest import Stack, pause_when, tiny_spec

pytestmark = pytest.mark.e2e

SPACE = {
    "lr": {"type": "log_uniform", "low": 0.003, "high": 0.1},
    "hparams.threshold": {"type": "uniform", "low": 0.5, "high": 0.95},
}


def start(stack: Stack, method: str, configs: int, seeds: list[int]) -> dict:
    base = tiny_spec(epochs=2, iters_per_epoch=3)
    return stack.client.search(base, SPACE, seeds, {"configs": configs}, method, parallel=1)


def finished(stack: Stack, sweep_id: int, seconds: float = 300) -> dict:
    stack.wait_for(
        lambda: stack.client.get_sweep(sweep_id)["state"] == "finished",
        "the search to end",
        seconds,
    )
    return stack.client.get_sweep(sweep_id)


def check_whole(sweep: dict, configs: int, seeds: list[int]) -> None:
    """Every trial once, each with one succeeded run per seed, and no stray run."""
    assert [t["number"] for t in sweep["trials"]] == list(range(configs))
    assert all(t["state"] == "complete" for t in sweep["trials"]), sweep["trials"]
    for trial in sweep["trials"]:
        assert [r["seed"] for r in trial["runs"]] == seeds
        assert {r["status"] for r in trial["runs"]} == {"succeeded"}
        assert 0 <= trial["objective"] <= 100
    run_ids = [r["id"] for t in sweep["trials"] for r in t["runs"]]
    assert sorted(run_ids) == sorted(r["id"] for r in sweep["runs"])
    assert len(set(run_ids)) == configs * len(seeds)


def test_a_tpe_search_trains_through_the_worker_and_repeats(stack: Stack):
    stack.start_worker()
    sweep = start(stack, "tpe", 3, [0])
    done = finished(stack, sweep["id"])
    check_whole(done, 3, [0])
    # The same search again asks first for the same configuration.
    again = start(stack, "tpe", 3, [0])
    assert again["trials"][0]["params"] == done["trials"][0]["params"]
    stack.client.steer_search(again["id"], "stop")


def test_a_random_search_survives_a_killed_worker_and_web_app(stack: Stack):
    worker = stack.start_worker()
    seeds = [0, 1]
    sweep = start(stack, "random", 3, seeds)

    def second_trial_training() -> bool:
        got = stack.client.get_sweep(sweep["id"])
        return len(got["trials"]) >= 2 and any(
            r["status"] == "running" for r in got["trials"][1]["runs"]
        )

    # Held (SIGSTOP) while trial 1 trains, then killed with the web app: on any machine speed.
    pause_when(worker, second_trial_training, "the second trial to train")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    web = stack.processes[0]
    os.killpg(web.pid, signal.SIGKILL)
    web.wait(timeout=10)
    stack.start_web()
    stack.start_worker()
    done = finished(stack, sweep["id"])
    check_whole(done, 3, seeds)
    recovered = [stack.client.get(r["id"])["recoveries"] for r in done["trials"][1]["runs"]]
    assert sum(recovered) == 1, stack.logs()


def test_a_collapsed_configuration_is_stopped_with_its_reason_on_the_page(stack: Stack):
    stack.start_worker()
    # τ 0.99 on a fresh net: no unlabeled image is confident enough, the mask ratio stays 0.
    space = {"hparams.threshold": {"type": "uniform", "low": 0.985, "high": 0.99}}
    early_stop = {"method": "none", "min_step": 0, "patience": 2, "mask_floor": 0.05}
    base = tiny_spec(epochs=40, iters_per_epoch=3)
    sweep = stack.client.search(
        base, space, [0], {"configs": 2}, "random", parallel=1, early_stop=early_stop
    )
    done = finished(stack, sweep["id"])
    assert [t["state"] for t in done["trials"]] == ["pruned", "pruned"], done["trials"]
    reason = done["trials"][0]["reason"]
    assert reason.startswith("stopped at step ") and "mask ratio 0.0" in reason, reason
    run = stack.client.get(done["trials"][0]["runs"][0]["id"])
    assert run["status"] == "pruned" and run["stop_reason"] == reason and run["epoch"] < 40
    page = httpx.get(f"{stack.url}/sweeps/{sweep['id']}").text
    assert "pruned" in page and "mask ratio" in page

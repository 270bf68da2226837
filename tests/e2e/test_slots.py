"""A worker with two slots: two runs train at once, each in its own pool process with its own
thread budget; a warm shutdown sends both back to the queue, and a killed worker takes its pool
processes with it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def test_two_slots_train_two_runs_at_once_and_give_them_back_on_shutdown(stack: Stack):
    worker = stack.start_worker(slots=2)
    ids = [stack.client.submit(tiny_spec(epochs=400, seed=seed))["id"] for seed in (0, 1)]

    # Both running together, each past its first epoch (its environment record is written).
    def both_training() -> list[dict] | None:
        runs = [stack.client.get(i) for i in ids]
        return runs if all(r["status"] == "running" and r["epoch"] >= 1 for r in runs) else None

    runs = stack.wait_for(both_training, "both runs to train at once", 240)
    assert sorted(r["slot"] for r in runs) == [1, 2], stack.logs()
    assert {r["device"] for r in runs} == {"cpu"}
    assert len({r["worker"] for r in runs}) == 1  # one worker, two slots
    # Each training process took its share of the cores: cores ÷ 2, at least 1.
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    assert [r["environment"]["torch_threads"] for r in runs] == [threads, threads]
    assert {r["environment"]["slot"] for r in runs} == {1, 2}
    page = httpx.get(f"{stack.url}/", timeout=30).text  # the runs page shows where
    assert "slot 1 · cpu" in page and "slot 2 · cpu" in page

    # Warm shutdown: the main process tells both pool processes (a shared event) to stop at
    # their next step; both runs go back to the queue, keeping their checkpoints.
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=120)
    for run_id in ids:
        run = stack.client.get(run_id)
        assert run["status"] == "queued", (run, stack.logs())
        assert run["summary"]["stopped"] is True and run["slot"] is None and run["worker"] is None
        assert (stack.home / "runs" / run["uid"] / "checkpoint.pt").is_file()


def test_a_killed_worker_takes_its_pool_processes_with_it(stack: Stack):
    worker = stack.start_worker(slots=2)
    run_id = stack.client.submit(tiny_spec(epochs=400))["id"]
    stack.wait_for(lambda: stack.client.get(run_id)["epoch"] >= 1, "the first epoch", 240)
    pool = _children(worker.pid)
    assert len(pool) == 2, pool
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    # PR_SET_PDEATHSIG: the pool processes die with the worker (no orphan keeps training).
    stack.wait_for(lambda: not any(_alive(pid) for pid in pool), "the pool processes to end", 30)
    # The run is resumed by the next worker (its heartbeat went stale).
    stack.start_worker(slots=2)
    stack.wait_for(
        lambda: stack.client.get(run_id)["recoveries"] == 1, "the run to be taken over", 120
    )
    stack.client.cancel(run_id)

"""On one running stack: a task delivered twice, a busy database, runs that cannot train."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter

import httpx
import pytest

from app.queue import enqueue
from tests.e2e.conftest import Stack
from tests.reliability.conftest import tiny

pytestmark = pytest.mark.e2e


def worker_log(stack: Stack) -> str:
    return "".join(p.read_text(errors="replace") for p in stack.home.glob("worker-*.log"))


def test_the_same_task_delivered_twice_trains_once(shared_stack: Stack):
    stack = shared_stack
    run_id = stack.client.submit(tiny(epochs=2))["id"]
    for _ in range(2):  # a redelivery and a stray retry: both after the first has claimed it
        enqueue(stack.env["MATCHLAB_REDIS_URL"], run_id)
    run = stack.client.wait(run_id, timeout=120, poll=0.3)
    assert run["status"] == "succeeded", (run["error"], stack.logs())
    stack.wait_for(
        lambda: worker_log(stack).count(f"run {run_id} is not queued") == 2,
        "both extra deliveries to be skipped",
        60,
    )
    for key, points in stack.client.metrics(run_id).items():
        assert points["epoch"] == [1, 2], key
    assert stack.client.get(run_id)["finished_at"] == run["finished_at"]  # not touched again


def test_many_readers_while_the_worker_writes_never_see_a_locked_database(shared_stack: Stack):
    stack = shared_stack
    run_id = stack.client.submit(tiny(epochs=7, iters_per_epoch=20))["id"]
    paths = [
        f"/api/runs/{run_id}", f"/api/runs/{run_id}/metrics", f"/api/runs/{run_id}/metrics.csv",
        "/api/runs?limit=100", f"/api/compare?runs={run_id}&keys=val/top1,train/loss",
        f"/runs/{run_id}", "/",
    ]  # fmt: skip
    codes: Counter[int] = Counter()
    done = threading.Event()

    def read_http(index: int) -> None:
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            while not done.is_set():
                codes[client.get(paths[index % len(paths)]).status_code] += 1
                index += 1

    def read_sqlite() -> None:
        # A reader straight on the file that holds each read transaction open a while.
        db = sqlite3.connect(stack.home / "matchlab.db", timeout=30)
        while not done.is_set():
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM metric_points").fetchone()
            time.sleep(0.05)
            db.execute("COMMIT")
        db.close()

    def write_http() -> None:
        # Writers too: new runs (cancelled at once, so the worker stays on ours) and deletes.
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            while not done.is_set():
                made = client.post("/api/runs", json=tiny(name="busy writer"))
                codes[made.status_code] += 1
                other = made.json()["id"]
                codes[client.post(f"/api/runs/{other}/cancel").status_code] += 1
                codes[client.delete(f"/api/runs/{other}").status_code] += 1

    threads = [threading.Thread(target=read_http, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=read_sqlite) for _ in range(3)]
    threads += [threading.Thread(target=write_http) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        # Stop before the last epoch: once ours is done the worker would take a writer's run
        # before its cancel arrives, and deleting a running run is rightly refused (409).
        stack.wait_for(lambda: stack.client.get(run_id)["epoch"] >= 4, "four epochs", 240)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    run = stack.client.wait(run_id, timeout=240, poll=0.5)
    assert run["status"] == "succeeded", (run["error"], stack.logs())
    assert sum(codes.values()) > 100 and set(codes) <= {200, 201, 204}, codes
    assert "database is locked" not in worker_log(stack)
    assert "database is locked" not in (stack.home / "web.log").read_text(errors="replace")
    for key, points in stack.client.metrics(run_id).items():
        assert points["epoch"] == list(range(1, 8)), key


def test_a_diverging_run_and_a_missing_dataset_fail_with_a_message_a_user_understands(
    shared_stack: Stack,
):
    stack = shared_stack
    # MixMatch's sharpening p^(1/T) underflows to 0/0 with a tiny temperature T: the loss is NaN.
    diverging = stack.client.submit(
        tiny(algorithm="mixmatch", uratio=1, hparams={"temperature": 1e-6, "rampup_iters": 0})
    )["id"]
    missing = stack.client.submit(tiny(dataset="cifar10", num_labels=40))["id"]
    run = stack.client.wait(diverging, timeout=120, poll=0.3)
    assert run["status"] == "failed"
    assert run["error_line"].startswith("TrainingDiverged: train/loss became nan during epoch 1"), (
        run
    )
    assert "during epoch 1" in run["error_line"] and "try a lower lr" in run["error_line"]
    assert stack.client.metrics(diverging) == {}  # no half-written epoch is left behind

    run = stack.client.wait(missing, timeout=120, poll=0.3)
    assert run["status"] == "failed"
    line = run["error_line"]
    assert line.startswith("DatasetMissing: dataset cifar10"), run
    assert str(stack.home / "data" / "cifar10") in line and "MATCHLAB_DATA_DIR" in line

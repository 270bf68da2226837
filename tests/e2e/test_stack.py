"""End to end with real parts: Redis, a Celery worker process, the web server, ssl_core.train."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.e2e.conftest import Stack, pause_when, tiny_spec

pytestmark = pytest.mark.e2e

# The metric keys DESIGN.md promises for every algorithm (FlexMatch adds per-class thresholds).
EVERY_RUN_KEYS = {
    "train/loss", "train/loss_x", "train/loss_u", "train/unsup_weight", "train/lr",
    "train/mask_ratio", "train/pseudo_label_acc", "train/imgs_per_s", "labeled/top1",
    "val/loss", "val/top1", "val/top5", "test/loss", "test/top1", "test/top5",
}  # fmt: skip


def test_submit_watch_and_finish_a_digits_run(stack: Stack):
    stack.start_worker()
    response = httpx.post(f"{stack.url}/api/runs", json=tiny_spec())
    assert response.status_code == 201
    run_id = response.json()["id"]
    events = list(stack.client.events(run_id))  # returns when the server closes the stream
    statuses = [data["status"] for name, data in events if name == "status"]
    assert statuses[-1] == "succeeded", stack.logs()
    assert "running" in statuses
    assert [data["epoch"] for name, data in events if name == "epoch"] == [1, 2, 3]

    run = stack.client.get(run_id)
    assert run["status"] == "succeeded" and run["epoch"] == 3 and run["progress"] == 1.0
    assert run["step"] == run["total_steps"] == 15
    summary = run["summary"]
    assert 1 <= summary["best_epoch"] <= 3 and summary["epochs"] == 3
    assert 0 <= summary["best_val_top1"] <= 100 and "last_test_top1" in summary

    series = stack.client.metrics(run_id)
    assert EVERY_RUN_KEYS <= set(series)
    for key, points in series.items():
        assert points["epoch"] == [1, 2, 3], key  # one row per key per epoch
    val = series["val/top1"]["value"]
    assert summary["best_val_top1"] == max(val)
    assert (stack.home / "runs" / run["uid"] / "checkpoint.pt").is_file()


def test_cancel_a_running_run(stack: Stack):
    stack.start_worker()
    run_id = stack.client.submit(tiny_spec(epochs=200))["id"]
    stack.wait_for(lambda: stack.client.get(run_id)["epoch"] >= 1, "the first epoch", 120)
    assert stack.client.cancel(run_id)["cancel_requested"] is True
    run = stack.client.wait(run_id, timeout=30, poll=0.2)
    assert run["status"] == "cancelled"
    assert 1 <= run["epoch"] < 200
    # Its metrics are kept: every stored epoch is complete.
    epochs = stack.client.metrics(run_id, keys=["val/top1"])["val/top1"]["epoch"]
    assert epochs == list(range(1, run["epoch"] + 1))


def test_killed_worker_run_resumes_from_its_checkpoint(stack: Stack):
    worker = stack.start_worker()
    run_id = stack.client.submit(tiny_spec(epochs=8))["id"]
    # Held at two epochs (SIGSTOP): the kill comes mid-run on any machine speed.
    pause_when(worker, lambda: stack.client.get(run_id)["epoch"] >= 2, "two epochs")
    before = stack.client.metrics(run_id, keys=["val/top1"])["val/top1"]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert stack.client.get(run_id)["status"] == "running"  # nobody has noticed yet

    stack.start_worker()
    run = stack.client.wait(run_id, timeout=180, poll=0.5)
    assert run["status"] == "succeeded", (run["error"], stack.logs())
    assert run["recoveries"] == 1 and run["epoch"] == 8
    after = stack.client.metrics(run_id)
    for key, points in after.items():
        assert points["epoch"] == list(range(1, 9)), key
    # The epochs before the kill were not trained again: their points are the same rows.
    val = after["val/top1"]
    assert val["wall_time"][:2] == before["wall_time"][:2]
    assert val["value"][:2] == before["value"][:2]

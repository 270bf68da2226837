"""Faults on the real stack: a worker SIGKILLed mid-epoch, Redis lost with runs queued, the web
server restarted during a run. Nothing may be lost, reported twice or left `running`."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import Stack, pause_when, resume
from tests.reliability.conftest import EventLog, OwnRedis, kill, read_events, tiny

pytestmark = pytest.mark.e2e


def web_process(stack: Stack):
    return next(p for p in stack.processes if "web" in p.args and p.poll() is None)


def follow(stack: Stack, run_id: int, seconds: float = 240) -> tuple[EventLog, threading.Thread]:
    log = EventLog()
    deadline = time.monotonic() + seconds
    reader = threading.Thread(target=read_events, args=(stack.url, run_id, log, deadline))
    reader.start()
    return log, reader


def assert_each_epoch_once(stack: Stack, run_id: int, epochs: int) -> dict:
    series = stack.client.metrics(run_id)
    assert len(series) >= 15
    for key, points in series.items():
        assert points["epoch"] == list(range(1, epochs + 1)), key
    folder = stack.home / "runs" / stack.client.get(run_id)["uid"]
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == epochs  # the trainer's own log agrees: no epoch trained twice
    return series


def test_worker_killed_mid_epoch_resumes_and_reports_every_epoch_once(own_stack: Stack):
    stack = own_stack
    worker = stack.start_worker()
    iters = 40  # long enough epochs that the kill lands inside one
    run_id = stack.client.submit(tiny(epochs=5, iters_per_epoch=iters))["id"]
    log, reader = follow(stack, run_id)

    def inside_epoch_three() -> bool:
        run = stack.client.get(run_id)
        assert run["status"] in ("queued", "running"), f"the run ended first: {run['status']}"
        return run["epoch"] >= 2 and run["step"] > run["epoch"] * iters

    # Stopped while we look, so the kill lands inside epoch 3 however fast this machine is.
    pause_when(worker, inside_epoch_three, "the run to be inside its third epoch")
    before = stack.client.metrics(run_id, keys=["val/top1"])["val/top1"]
    kill(worker)  # stopped or not, SIGKILL ends it
    assert stack.client.get(run_id)["status"] == "running"  # nobody has noticed yet

    stack.start_worker()
    run = stack.client.wait(run_id, timeout=180, poll=0.5)
    reader.join(timeout=30)
    assert run["status"] == "succeeded", (run["error"], stack.logs())
    assert run["recoveries"] == 1 and run["epoch"] == 5 and run["step"] == 5 * iters
    series = assert_each_epoch_once(stack, run_id, 5)
    # The epochs stored before the kill are the same rows: not trained or reported again.
    done = len(before["epoch"])
    assert series["val/top1"]["wall_time"][:done] == before["wall_time"]
    # A page that watched the whole time saw each epoch once, in order, and the end.
    assert log.epochs == [1, 2, 3, 4, 5] and log.statuses[-1] == "succeeded", log


def test_redis_lost_with_runs_queued_every_run_still_trains_once(
    own_stack: Stack, own_redis: OwnRedis
):
    stack = own_stack
    stack.start_worker()
    first = stack.client.submit(tiny(epochs=4, iters_per_epoch=30))["id"]
    waiting = [stack.client.submit(tiny(seed=seed))["id"] for seed in (1, 2)]
    stack.wait_for(lambda: stack.client.get(first)["status"] == "running", "the first run", 60)
    log, reader = follow(stack, first)  # a page watching through the outage
    own_redis.kill()  # its queue (the two waiting runs' messages) is gone with it
    assert stack.client.health()["status"] == "unavailable"
    # Submitting still works: the database is the truth; the message is sent once Redis is back,
    # and the answer says so (202, not 201).
    response = httpx.post(f"{stack.url}/api/runs", json=tiny(seed=3), timeout=60)
    assert response.status_code == 202, response.text
    assert response.headers["matchlab-queue"] == "unreachable"
    late = response.json()["id"]
    time.sleep(2)
    own_redis.start()  # on the same port, empty

    ids = [first, *waiting, late]
    for run_id in ids:
        run = stack.client.wait(run_id, timeout=240, poll=0.5)
        assert run["status"] == "succeeded", (run_id, run["error"], stack.logs())
        assert run["recoveries"] == 0
        assert_each_epoch_once(stack, run_id, run["spec"]["epochs"])
    assert "sent again" in stack.logs()  # the watchdog, not luck, brought them back
    reader.join(timeout=60)
    assert log.epochs == [1, 2, 3, 4] and log.statuses[-1] == "succeeded", log


EPOCHS = 6  # small enough to keep a 3× margin under the timeout at a load average of 8


def test_web_server_restart_during_a_run_loses_and_repeats_no_epoch(own_stack: Stack):
    stack = own_stack
    # Held (SIGSTOP) while the web server restarts, the worker beats no heartbeat: it must not
    # look dead meanwhile, however long the restart takes on a loaded machine.
    stack.env["MATCHLAB_STALE_AFTER_SECONDS"] = "600"
    worker = stack.start_worker()
    run_id = stack.client.submit(tiny(epochs=EPOCHS, iters_per_epoch=40))["id"]
    log, reader = follow(stack, run_id)
    # The worker is held at two epochs while the web server restarts, so the run is still
    # training when it is back, on any machine speed; it trains on unwatched for a moment.
    pause_when(worker, lambda: len(log.epochs) >= 2, "two epochs on the stream")
    kill(web_process(stack))
    resume(worker)
    time.sleep(0.5)  # the worker keeps training with nobody watching
    os.kill(worker.pid, signal.SIGSTOP)
    stack.start_web()
    # Still training: the stream resumes with epochs that are yet to come, not only a replay.
    assert stack.client.get(run_id)["status"] == "running"
    resume(worker)
    reader.join(timeout=240)
    run = stack.client.get(run_id)
    assert run["status"] == "succeeded", (run["error"], stack.logs())
    assert log.reconnects >= 1
    assert log.epochs == list(range(1, EPOCHS + 1)), log
    assert log.statuses[-1] == "succeeded"
    assert_each_epoch_once(stack, run_id, EPOCHS)

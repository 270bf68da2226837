"""Real stacks for fault and load tests: a Redis of their own (so it can be killed), the web
server and worker processes of tests/e2e, and an SSE reader that reconnects like a browser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.stack.redis_server import free_port, start_redis
from tests.browser.conftest import browser  # noqa: F401  (Chromium, for the browser tests here)
from tests.e2e.conftest import Stack

TERMINAL = ("succeeded", "failed", "cancelled")


class OwnRedis:
    """A redis-server on a fixed port that a test may kill and start again (empty: no saves)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = start_redis(self.port, self.workdir, persist=False)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_stack(tmp_path: Path, own_redis: OwnRedis) -> Iterator[Stack]:
    """The web server on a Redis this test owns; the test starts the workers it needs."""
    home = tmp_path / "home"
    home.mkdir()
    stack = Stack(home, own_redis.url)
    stack.start_web()
    yield stack
    stack.stop()


@pytest.fixture(scope="package")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Web server + one worker for the tests that leave both running (a worker start costs
    seconds: it imports torch). Its own Redis keeps other tests' ``flushdb`` away from it."""
    server = OwnRedis(tmp_path_factory.mktemp("shared-redis"))
    server.start()
    stack = Stack(tmp_path_factory.mktemp("shared-home"), server.url)
    try:
        stack.start_web()
        stack.start_worker()
        yield stack
    finally:
        stack.stop()
        server.kill()


def tiny(**overrides: Any) -> dict[str, Any]:
    """A digits run of a few seconds on a CPU."""
    return {
        "algorithm": "fixmatch", "dataset": "digits", "num_labels": 40, "net": "cnn_small",
        "epochs": 3, "iters_per_epoch": 4, "batch_size": 8, "uratio": 2, "device": "cpu",
        **overrides,
    }  # fmt: skip


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@dataclass
class EventLog:
    """What an SSE reader saw: each ``epoch`` event's number, statuses, and its reconnects."""

    epochs: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    reconnects: int = 0
    error: str | None = None

    @property
    def finished(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] in TERMINAL


def read_events(url: str, run_id: int, log: EventLog, deadline: float) -> None:
    """Follow the run's event stream to its end, reconnecting like a browser's EventSource:
    after a dropped connection, retry with ``Last-Event-ID`` set to the last epoch seen."""
    last_id: str | None = None
    timeout = httpx.Timeout(5.0, read=30.0)
    while not log.finished and time.monotonic() < deadline:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with httpx.stream(
                "GET", f"{url}/api/runs/{run_id}/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    log.error = f"HTTP {response.status_code}"
                    return
                event = event_id = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("id: "):
                        event_id = line.removeprefix("id: ")
                    elif line.startswith("data: ") and event:
                        data = json.loads(line.removeprefix("data: "))
                        if event == "epoch":
                            log.epochs.append(data["epoch"])
                            last_id = event_id
                        elif event == "status":
                            log.statuses.append(data["status"])
                    elif line == "":
                        event = event_id = None
        except httpx.HTTPError:
            pass  # the server went away; retry like EventSource does
        if not log.finished:
            log.reconnects += 1
            time.sleep(0.3)

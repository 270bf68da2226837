"""The real stack: a private Redis, ``matchlab web`` and ``matchlab worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from app.client import Client
from app.stack.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    """Processes sharing one MATCHLAB_HOME, SQLite file and Redis; stopped at teardown."""

    def __init__(self, home: Path, redis_url: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MATCHLAB_HOME": str(home),
            "MATCHLAB_REDIS_URL": redis_url,
            "MATCHLAB_HEARTBEAT_SECONDS": "0.5",
            # A killed worker's run is taken over 3 s after its last heartbeat.
            "MATCHLAB_STALE_AFTER_SECONDS": "3",
            # A queued run whose message Redis lost is sent again after 2 s.
            "MATCHLAB_REQUEUE_AFTER_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("MATCHLAB_DATABASE_URL", None)
        self.env.pop("MATCHLAB_API_TOKEN", None)
        self.processes: list[subprocess.Popen] = []
        self.client = Client(self.url)

    def spawn(self, *args: str, log_name: str) -> subprocess.Popen:
        # The child writes to its own copy of the file descriptor; ours can close at once.
        with open(self.home / f"{log_name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "matchlab.cli", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_web(self) -> None:
        self.spawn("web", "--port", str(self.port), log_name="web")
        self.wait_for(lambda: self._health() is not None, "the web server to answer", 30)

    def start_worker(self, slots: int = 1) -> subprocess.Popen:
        """A worker; one slot (the solo pool, training in the process the tests signal) unless
        ``slots`` says otherwise."""
        before = {w["name"] for w in self._health()["workers"]}
        worker = self.spawn(
            "worker", "--loglevel", "INFO", "--slots", str(slots),
            log_name=f"worker-{len(self.processes)}",
        )  # fmt: skip
        self.wait_for(
            lambda: {w["name"] for w in self._health()["workers"]} - before,
            "the worker to report in",
            60,
        )
        return worker

    def _health(self) -> dict | None:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=2).json()
        except httpx.HTTPError:
            return None

    def wait_for(self, condition: Callable[[], Any], what: str, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {seconds} s waiting for {what}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in self.home.glob("*.log")
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.client.close()


def pause_when(
    process: subprocess.Popen, condition: Callable[[], bool], what: str, seconds: float = 300
) -> None:
    """Let ``process`` (a worker) run in short slices until ``condition`` holds, and leave it
    stopped (SIGSTOP) there: the caller acts at that exact point however fast or slow this
    machine trains (``resume`` continues it; SIGKILL ends it either way)."""
    deadline = time.monotonic() + seconds
    while True:
        os.kill(process.pid, signal.SIGSTOP)
        if condition():
            return
        resume(process)
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.05)


def resume(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGCONT)


@pytest.fixture
def stack(tmp_path: Path, redis_url: str) -> Iterator[Stack]:
    redis.Redis.from_url(redis_url).flushdb()
    home = tmp_path / "home"
    home.mkdir()
    value = Stack(home, redis_url)
    value.start_web()
    yield value
    value.stop()


def tiny_spec(**overrides: Any) -> dict[str, Any]:
    """A digits run that trains in seconds on a CPU."""
    return {
        "algorithm": "fixmatch",
        "dataset": "digits",
        "num_labels": 40,
        "net": "cnn_small",
        "epochs": 3,
        "iters_per_epoch": 5,
        "batch_size": 16,
        "uratio": 2,
        "device": "cpu",
        **overrides,
    }

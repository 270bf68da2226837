"""``matchlab up --demo``: embedded Redis, worker and web server; Ctrl-C stops them all cleanly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
import redis

from app.queue import QUEUE
from app.stack.redis_server import free_port, redis_answers, start_redis
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_up_demo_then_ctrl_c(tmp_path):
    port, dead_redis_port = free_port(), free_port()
    env = {
        **os.environ,
        "MATCHLAB_HOME": str(tmp_path),
        # Nothing answers here, so `up` must start its embedded Redis.
        "MATCHLAB_REDIS_URL": f"redis://127.0.0.1:{dead_redis_port}/0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MATCHLAB_DATABASE_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "matchlab.cli", "up", "--port", str(port), "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        for line in up.stdout:
            lines.append(line)
            if line.startswith("matchlab is up"):
                break
        output = "".join(lines)
        assert f"matchlab is up: {url}" in output, output
        assert "started an embedded one on port" in output
        runs = httpx.get(f"{url}/api/runs").json()
        assert runs["total"] == 4
        assert sorted(r["spec"]["algorithm"] for r in runs["items"]) == [
            "fixmatch", "flexmatch", "mixmatch", "supervised",
        ]  # fmt: skip
        assert all(
            r["spec"]["num_labels"] == 40 and r["spec"]["dataset"] == "digits"
            for r in runs["items"]
        )
        redis_port = int(output.split("started an embedded one on port ")[1].split()[0])

        deadline = time.monotonic() + 90
        while not httpx.get(f"{url}/api/runs?status=running").json()["total"]:
            assert time.monotonic() < deadline, "no demo run started training"
            time.sleep(0.5)
        health = httpx.get(f"{url}/api/health").json()
        assert health["status"] == "ok" and len(health["workers"]) == 1

        up.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal delivers
        rest, _ = up.communicate(timeout=90)
        assert up.returncode == 0, rest
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
    # Everything is down, and the run that was training went back to the queue.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/api/health", timeout=2)
    assert not redis_answers(f"redis://127.0.0.1:{redis_port}/0")
    with sqlite3.connect(tmp_path / "matchlab.db") as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM runs")]
    assert statuses == ["queued"] * 4  # nothing finished in these seconds; nothing left running
    # The queue survives: the saved Redis holds a message for each of the four runs again.
    again = start_redis(free_port(), tmp_path / "redis", persist=False)
    try:
        client = redis.Redis(port=int(again.args[again.args.index("--port") + 1]))
        assert client.llen(QUEUE) == 4
    finally:
        again.terminate()
        again.wait(timeout=10)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # fields after "(comm)": state, ppid, ...
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_up_killed_outright_takes_redis_worker_and_web_with_it(tmp_path):
    port, dead_redis_port = free_port(), free_port()
    env = {
        **os.environ,
        "MATCHLAB_HOME": str(tmp_path),
        "MATCHLAB_REDIS_URL": f"redis://127.0.0.1:{dead_redis_port}/0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MATCHLAB_DATABASE_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "matchlab.cli", "up", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        for line in up.stdout:
            if line.startswith("matchlab is up"):
                break
        children = _children(up.pid)
        assert len(children) == 3, children  # Redis, worker, web server
        up.kill()  # SIGKILL: no handler runs, as when a terminal is closed hard
        up.wait()
        deadline = time.monotonic() + 90
        while any(_alive(pid) for pid in children):
            assert time.monotonic() < deadline, [p for p in children if _alive(p)]
            time.sleep(0.2)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()

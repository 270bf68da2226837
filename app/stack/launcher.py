"""``matchlab up``: Redis (if none answers), one worker (with as many slots as the machine holds)
and the web server, supervised together.

Children run in their own sessions, so a Ctrl-C reaches only this process, which then stops them
in order: the worker first (its run goes back to the queue at the next step, keeping its
checkpoint), then the web server, then an embedded Redis last (it saves the queue to disk). If
this process is killed outright, the children get SIGTERM from the kernel (``app.children``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from app.config import get_settings
from app.stack.children import spawn
from app.stack.redis_server import free_port, redis_answers, start_redis
from app.store.db import get_engine
from ssl_core.contract.catalog import DEMO_ALGORITHMS

WORKER_STOP_SECONDS = 60  # one training step must finish; a WRN step on a CPU takes ~10 s


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return spawn([sys.executable, "-m", "matchlab.cli", *args], env)


def _stop(process: subprocess.Popen, sig: int, seconds: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()  # a worker killed here is resumed from its checkpoint next time
        process.wait()


def _wait_healthy(url: str, children: list[subprocess.Popen], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def submit_demo(url: str) -> None:
    """Queue the four algorithms on digits with 40 labels, unless the database has runs."""
    from app.client import Client

    with Client(url, token=get_settings().api_token) as lab:
        if lab.runs(limit=1)["total"]:
            print("demo: the database already has runs; not adding the demo")
            return
        sweep = lab.sweep(
            {"algorithm": "supervised", "dataset": "digits", "num_labels": 40},
            {"algorithm": list(DEMO_ALGORITHMS)},
            seeds=[0],
            name="demo: four algorithms on digits-40",
        )
        ids = ",".join(str(run["id"]) for run in sweep["runs"])
        print(f"demo: queued runs {ids}; compare them at {url}/compare?runs={ids}")


def up(host: str, port: int, demo: bool = False, slots: int | None = None) -> int:
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    get_engine(settings)  # create the tables once, before two processes race to
    env = dict(os.environ)
    redis_process = None
    if redis_answers(settings.redis_url):
        print(f"using Redis at {settings.redis_url}")
    else:
        redis_port = free_port()
        redis_process = start_redis(redis_port, settings.home / "redis")
        env["MATCHLAB_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        print(f"no Redis at {settings.redis_url}; started an embedded one on port {redis_port}")

    # The worker plans its slots from the cores, the GPU and the waiting nets (worker/slots.py).
    worker = _spawn(["worker", *(["--slots", str(slots)] if slots else [])], env)
    web = _spawn(["web", "--host", host, "--port", str(port)], env)
    children = [worker, web]
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}"
    status = 0
    try:
        if not _wait_healthy(url, children):
            print("matchlab did not come up (see the messages above)", file=sys.stderr)
            return 1
        if demo:
            submit_demo(url)
        print(f"matchlab is up: {url}   (Ctrl-C stops it)", flush=True)
        while not stopping:
            for child, name in ((worker, "worker"), (web, "web server")):
                if child.poll() is not None:
                    print(f"the {name} exited ({child.returncode}); stopping", file=sys.stderr)
                    stopping, status = True, 1
            time.sleep(0.3)
        return status
    finally:
        print("stopping: worker (its run returns to the queue), web server, Redis", flush=True)
        _stop(worker, signal.SIGTERM, WORKER_STOP_SECONDS)
        _stop(web, signal.SIGTERM, 10)
        if redis_process is not None:
            _stop(redis_process, signal.SIGTERM, 10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

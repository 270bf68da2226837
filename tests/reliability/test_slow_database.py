"""A stalled database holds up only what needs it: static files and health answer at once, the
rest gets 503 with Retry-After within the configured wait, never a bare 500 or a hang."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.e2e.conftest import Stack

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCK_SECONDS = 40  # the longest the lock is held; every request below must end well before
WAIT_SECONDS = 1.0  # MATCHLAB_DATABASE_TIMEOUT_SECONDS for the server under test


@pytest.fixture
def postgres_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"matchlab_bounded_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def timed_get(url: str) -> tuple[float, httpx.Response | Exception]:
    start = time.monotonic()
    try:
        response = httpx.get(url, timeout=LOCK_SECONDS + 20)
    except httpx.HTTPError as exc:
        return time.monotonic() - start, exc
    return time.monotonic() - start, response


def test_a_locked_runs_table_costs_static_and_health_nothing_and_the_rest_a_503(
    tmp_path, own_redis, postgres_url
):
    import psycopg

    home = tmp_path / "home"
    home.mkdir()
    stack = Stack(home, own_redis.url)
    stack.env["MATCHLAB_DATABASE_URL"] = postgres_url
    stack.env["MATCHLAB_DATABASE_TIMEOUT_SECONDS"] = str(WAIT_SECONDS)
    try:
        stack.start_web()
        assert httpx.post(f"{stack.url}/api/runs", json={"algorithm": "fixmatch"}).status_code in (
            201,
            202,
        )
        locker = psycopg.connect(postgres_url)  # a transaction stays open until rollback
        locker.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")
        locked_at = time.monotonic()
        urls = (
            [f"{stack.url}/api/runs"] * 40
            + [f"{stack.url}/"] * 10
            + [f"{stack.url}/static/style.css"] * 10
            + [f"{stack.url}/api/health"] * 5
            + [f"{stack.url}/runs/new"] * 5
        )
        try:
            with ThreadPoolExecutor(len(urls)) as pool:
                results = list(zip(urls, pool.map(timed_get, urls), strict=True))
            held = time.monotonic() - locked_at
        finally:
            locker.rollback()
            locker.close()
        assert held < LOCK_SECONDS, "the requests waited for the lock to go"
        for url, (elapsed, response) in results:
            assert not isinstance(response, Exception), (url, response)
            path = url.removeprefix(stack.url)
            if path.startswith("/static/") or path == "/runs/new":
                assert response.status_code == 200, (path, response.text)
                assert elapsed < 10, (path, elapsed)
            elif path == "/api/health":
                # The runs table is not needed to answer SELECT 1: fast, whatever it says.
                assert response.status_code in (200, 503) and elapsed < 10, (path, elapsed)
                assert "database" in response.json()
            else:
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert response.headers["retry-after"].isdigit()
                assert "the database is busy" in response.json()["detail"]
                assert elapsed < 20 * WAIT_SECONDS, (path, elapsed)
        # The lock gone, everything answers again.
        assert httpx.get(f"{stack.url}/api/runs", timeout=10).status_code == 200
    finally:
        stack.stop()


def test_sqlite_write_locked_by_another_process_answers_503_within_the_wait(settings):
    quick = settings.model_copy(update={"database_timeout_seconds": WAIT_SECONDS})
    with TestClient(create_app(quick, pages=False)) as client:
        assert client.get("/api/runs").status_code == 200  # the tables exist
        holder = sqlite3.connect(quick.db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long write elsewhere holds it
        try:
            start = time.monotonic()
            response = client.post("/api/runs", json={"algorithm": "fixmatch"})
            elapsed = time.monotonic() - start
            # Reads go on under WAL.
            assert client.get("/api/runs").status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert "the database is busy" in response.json()["detail"]
        assert elapsed < 10 * WAIT_SECONDS
        assert client.post("/api/runs", json={"algorithm": "fixmatch"}).status_code in (201, 202)

"""Shared fixtures: a private Redis server, temporary settings, a SQLite file, the app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.config import Settings
from app.queue import breaker
from app.stack.redis_server import free_port, start_redis
from app.store.db import _engines

# Starlette's TestClient sends "Host: testserver"; the real servers the e2e tests start are
# reached as 127.0.0.1. tests/security/test_site_guard.py checks the default list itself.
TEST_HOSTS = "localhost,127.0.0.1,::1,testserver"
os.environ.setdefault("MATCHLAB_ALLOWED_HOSTS", TEST_HOSTS)
# Nothing in the suite may read or upgrade the user's own ~/.matchlab (its database may belong to
# another version of matchlab): code that falls back to the default settings gets a private home.
if "MATCHLAB_HOME" not in os.environ:
    import tempfile

    os.environ["MATCHLAB_HOME"] = tempfile.mkdtemp(prefix="matchlab-test-home-")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of the test session's own (never the shared one on 6379)."""
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"), persist=False)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Iterator[Settings]:
    """Settings for one test: its own MATCHLAB_HOME and SQLite file, an empty Redis."""
    redis.Redis.from_url(redis_url).flushdb()
    breaker.reset()  # a test with Redis away must not make the next one skip Redis
    value = Settings(
        home=tmp_path / "home",
        redis_url=redis_url,
        database_url=None,
        api_token=None,
        heartbeat_seconds=0.1,
        stale_after_seconds=30,
    )
    yield value
    engine = _engines.pop(value.db_url, None)
    if engine is not None:
        engine.dispose()


def run_folder(settings: Settings, run_id: int) -> Path:
    """Where run ``run_id``'s files are (``app.store.run_files.run_dir`` of its row)."""
    from sqlmodel import Session

    from app.store.db import get_engine
    from app.store.models import Run
    from app.store.run_files import run_dir

    with Session(get_engine(settings)) as session:
        return run_dir(settings.runs_dir, session.get(Run, run_id))

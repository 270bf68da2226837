"""One engine factory shared by the web server and the workers.

SQLite runs in WAL mode so the web server reads while a worker writes; a busy timeout makes a
writer wait for the lock instead of failing; foreign keys make deleting a run delete its points.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from app.config import Settings, get_settings
from app.store.migrate import upgrade

BUSY_TIMEOUT_MS = 30_000
_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # (The busy timeout is sqlite3's connect argument ``timeout``: the web server's is shorter.)
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL stays consistent after a crash; only the last commits may be lost on power cut.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, migrate: bool = True, **kwargs: Any) -> Engine:
    """A new engine for ``url`` with matchlab's connection settings; unless ``migrate`` is
    False, creates the tables or upgrades them (``app.store.migrate``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    import app.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

    if migrate:  # the web server and a worker may start together: upgrades take a lock
        try:
            upgrade(engine)
        except BaseException:  # refused (a newer schema) or failed: no pool left behind
            engine.dispose()
            raise
    return engine


def after_fork() -> None:
    """In a forked child: start fresh connection pools, leaving the parent's connections alone
    (a connection must never be used by two processes)."""
    for engine in _engines.values():
        engine.dispose(close=False)


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the settings' database (one per URL)."""
    url = (settings or get_settings()).db_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

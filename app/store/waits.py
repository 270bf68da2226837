"""Bounded database waits for the web server: a stalled database answers 503, it never hangs.

A table locked for a minute (a migration, a manual ``LOCK TABLE``, a long ``VACUUM``) used to hold
each request until the connection pool gave up after 30 s with a bare 500, while every request
thread waited, and with them static files and health checks. The web server's engine instead
gives up after ``MATCHLAB_DATABASE_TIMEOUT_SECONDS`` at every place a request can wait: a
statement (PostgreSQL ``statement_timeout``), a lock (``lock_timeout``; SQLite's busy timeout),
and a free pooled connection (``pool_timeout``). The workers keep their own, patient engine
(``app.store.db.get_engine``): a training run should wait out a busy database, not fail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.config import Settings
from app.store.db import get_engine, make_engine

# PostgreSQL's codes for "gave up waiting": lock_not_available, query_canceled (the statement
# timeout), and the server refusing connections (too many, starting up, shutting down).
BUSY_CODES = {"55P03", "57014", "53300", "57P03"}
# Requests that may hold a request thread for the database at once: anyio's 40 request threads
# less 8 kept for static files and pages without data. (A route may hold its place across a
# Redis call after its commit, so places outnumber the pool's 5 + 10 connections: the pool's
# own wait is bounded too.)
DB_REQUESTS = 32
# How long a request queues for a place (on the event loop, holding no thread), in database
# timeouts: places free up at least this often, since every wait of a holder is bounded.
PLACE_WAIT_TIMEOUTS = 2


class DatabaseBusy(Exception):
    """No database connection could be had in time: the request is refused with a 503."""


def engine_options(url: str, timeout_seconds: float) -> dict[str, Any]:
    """``make_engine`` keyword arguments that bound each wait of a request to ``timeout_seconds``."""
    ms = max(1, int(timeout_seconds * 1000))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):  # one connection, no pool to wait for
            return {"connect_args": {"timeout": timeout_seconds}}
        connect_args: dict[str, Any] = {"timeout": timeout_seconds}
    else:
        options = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        connect_args = {"options": options, "connect_timeout": max(1, round(timeout_seconds))}
    return {"connect_args": connect_args, "pool_timeout": timeout_seconds}


def web_engine(settings: Settings) -> Engine:
    """A new engine for the web server: the schema created or upgraded first, on the patient
    process-wide engine (``get_engine``: a migration may take longer than a request may), then
    the bounded one. The app disposes it when it shuts down (``app.main``)."""
    get_engine(settings)
    url, timeout = settings.db_url, settings.database_timeout_seconds
    return make_engine(url, migrate=False, **engine_options(url, timeout))


def database_problem(exc: BaseException) -> str | None:
    """``"busy"`` when the database did not answer in time, ``"unreachable"`` when it could not
    be reached at all; None for any other error (a bug, or the caller's)."""
    if isinstance(exc, (PoolTimeout, DatabaseBusy)):
        return "busy"
    if isinstance(exc, DisconnectionError):
        return "unreachable"
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in BUSY_CODES:
        return "busy"
    text = str(exc.orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return "busy"
    if exc.connection_invalidated or (
        isinstance(exc, OperationalError)
        and any(
            words in text
            for words in ("connection", "could not connect", "server closed", "timeout expired")
        )
    ):
        return "unreachable"
    return None

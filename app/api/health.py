"""Health: can we reach the database and the broker, and which workers are alive."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import redis
from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text
from sqlmodel import Session

from app.deps import EngineDep, SessionRoute, SettingsDep
from app.http.auth import bearer_ok, live_session
from app.live.notify import WORKER_KEY_PREFIX, redis_client
from app.queue import QUEUE
from app.store.errors import storage_problem

router = APIRouter(route_class=SessionRoute, tags=["health"])
T = TypeVar("T")


def _check_db(engine: Any) -> dict[str, Any]:
    try:
        with Session(engine) as session:
            session.exec(text("SELECT 1"))
        return {"ok": True, "url": engine.url.render_as_string(hide_password=True)}
    except Exception as exc:  # any driver error means "not reachable"
        return {"ok": False, "error": str(exc).splitlines()[0]}


PROBE_BYTES = 64 * 1024


def _check_store(engine: Any, home: Path) -> dict[str, Any]:
    """Can the database and MATCHLAB_HOME (checkpoints) take a write? Reading is not enough: a
    full disk or a read-only mount answers ``SELECT 1`` and refuses every submission."""
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                # A write that changes nothing, rolled back: a read-only database refuses it.
                version = connection.exec_driver_sql("PRAGMA user_version").scalar()
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    connection.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
                finally:
                    connection.exec_driver_sql("ROLLBACK")
            elif connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
                raise OSError(errno.EROFS, "read-only transaction")
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".health-") as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except Exception as exc:
        problem = storage_problem(exc) or "unwritable"
        return {"ok": False, "error": f"{problem}: {str(exc).strip().splitlines()[0][:300]}"}
    return {"ok": True, "free_bytes": shutil.disk_usage(home).free}


def _check_broker(url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = redis_client(url)
    try:
        client.ping()
        queued = client.llen(QUEUE)
        # Workers keep a key with a short expiry alive while they run (worker/presence.py).
        keys = list(client.scan_iter(f"{WORKER_KEY_PREFIX}*", count=1000))
        workers = [json.loads(raw) for raw in client.mget(keys) if raw] if keys else []
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc)}, []
    return {"ok": True, "queued_messages": queued}, sorted(workers, key=lambda w: w["name"])


# The whole check's bound, and its own threads: a stalled database holds the request threads,
# and a health probe must still answer (reporting the database as slow).
CHECK_SECONDS = 3.0
_checks = anyio.CapacityLimiter(8)


async def _within(deadline: float, check: Callable[..., T], *args: Any) -> T | None:
    """``check(*args)`` in a thread, or None when it is not done by ``deadline`` (left to finish
    on its own: each database wait is bounded, see app/store/waits.py)."""
    with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
        return await to_thread.run_sync(check, *args, limiter=_checks, abandon_on_cancel=True)
    return None


@router.get(
    "/health",
    responses={503: {"description": "the database or Redis does not answer, or the store "
                     "(database, MATCHLAB_HOME) cannot be written"}},
)  # fmt: skip
async def health(
    engine: EngineDep, settings: SettingsDep, request: Request, response: Response
) -> dict[str, Any]:
    """``ok`` needs the database and the broker; zero workers only means runs wait in the queue.

    Answers within a few seconds whatever the database does: each check runs in a thread of its
    own (not one a stalled request holds) and one that does not finish in time reads "slow".
    With ``MATCHLAB_API_TOKEN`` set, a caller without it (a load balancer's probe) sees the
    status alone: no database path, worker hosts or process ids."""
    deadline = anyio.current_time() + CHECK_SECONDS
    slow = {"ok": False, "error": f"slow: no answer within {CHECK_SECONDS:g} s"}
    found: dict[str, Any] = {"store": {"ok": False}, "workers": []}

    async def database_and_store() -> None:
        found["database"] = await _within(deadline, _check_db, engine) or slow
        if found["database"]["ok"]:
            found["store"] = await _within(deadline, _check_store, engine, settings.home) or slow

    async def broker() -> None:
        answer = await _within(deadline, _check_broker, settings.redis_url)
        found["broker"], found["workers"] = answer or (slow, [])

    async with anyio.create_task_group() as checks:  # side by side: one slow one costs no more
        checks.start_soon(database_and_store)
        checks.start_soon(broker)
    database, store = found["database"], found["store"]
    ok = database["ok"] and store["ok"] and found["broker"]["ok"]
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = "5"
    token = settings.api_token
    if token and not (
        bearer_ok(request, token) or await _within(deadline, live_session, request, token)
    ):
        return {"status": "ok" if ok else "unavailable"}
    return {
        "status": "ok" if ok else "unavailable",
        "database": database,
        "store": store,
        "broker": found["broker"],
        "workers": found["workers"],
    }

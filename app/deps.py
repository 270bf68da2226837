"""Request dependencies: settings, a DB session per request (closed early: SessionRoute), ids."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Path, Request, Response, status
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import FormData

from app.config import Settings
from app.http.params import Id
from app.store.models import MAX_ID as MAX_ID  # the routes' bound for offsets and sweep ids
from app.store.waits import PLACE_WAIT_TIMEOUTS, DatabaseBusy


def app_settings(request: Request) -> Settings:
    """The settings the app was created with (one object per app, never re-read per request)."""
    return request.app.state.settings


def app_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Opened and closed on the event loop: closing needs no worker thread (see SessionRoute).
    # A place first, waited for here on the loop (no thread held), boundedly (app.store.waits).
    places: anyio.CapacityLimiter = request.app.state.db_places
    borrower, placed = object(), False
    wait = request.app.state.settings.database_timeout_seconds * PLACE_WAIT_TIMEOUTS
    with anyio.move_on_after(wait):
        await places.acquire_on_behalf_of(borrower)
        placed = True
    if not placed:
        raise DatabaseBusy("every database connection stayed busy")
    try:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            yield session
    finally:
        places.release_on_behalf_of(borrower)


async def read_form(request: Request) -> FormData:
    """The posted form, parsed on the event loop, so the route itself can be a plain ``def``:
    FastAPI runs those in a worker thread, and their database and Redis calls never hold up
    other requests (no route that touches either is ``async def``; tests/app/test_layout.py)."""
    return await request.form()


def _close_sessions(values: dict[str, Any]) -> None:
    for value in values.values():
        if isinstance(value, Session):
            value.close()


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(*args, **kwargs)
            finally:
                _close_sessions(kwargs)

        return run_async

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            _close_sessions(kwargs)

    return run


class SessionRoute(APIRoute):
    """A route whose database session is closed the moment the route function returns.

    FastAPI turns a sync route's result into JSON in a worker thread *after* the function
    returns, and ends its dependencies later still; an open session holds its pooled connection
    all that time. Under load every worker thread then waits for a connection while every
    connection belongs to a request waiting for a thread: 200 concurrent submissions hung until
    the pool timed out. Routes build their results from loaded rows, so closing early is safe.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _closing_sessions(endpoint), **kwargs)


RunId = Annotated[Id, Path(description="a run id")]
SweepId = Annotated[Id, Path(description="a sweep id")]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(app_engine)]
FormDep = Annotated[FormData, Depends(read_form)]
# A retried POST /api/runs or /api/sweeps with the same key returns what the first one made.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a retry with the same key returns the first result (200) instead of a new one",
    ),
]


NOT_QUEUED = {
    "description": "stored, but Redis (the queue) did not answer: the run stays queued and the "
    "workers' watchdog sends it once Redis is back (header Matchlab-Queue: unreachable)",
}


def answer_queued(response: Response, queued: bool) -> None:
    """201 → 202 with a header when the run is stored but could not be queued yet."""
    if not queued:
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Matchlab-Queue"] = "unreachable"

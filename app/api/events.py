"""Server-sent events for one run: a replay of what is stored, then live updates.

Events (``data`` is JSON):
- ``status``: the run JSON; sent at the start and on every change while the run is queued or
  running, and as the very last event once it has finished (after its final epochs), after which
  the server closes the stream. Pages should ``close()`` their EventSource then, or it reconnects.
- ``epoch`` (``id`` = epoch): ``{"epoch", "step", "wall_time", "metrics": {key: value}}``, once per
  finished epoch, in order. A reconnecting EventSource sends ``Last-Event-ID`` and gets only the
  epochs after it.
- ``progress``: ``{"epoch", "step", "total_steps", "progress"}`` every few seconds while training.

Live updates arrive through Redis pub/sub (one subscription per run, shared by its pages:
``app.live.feeds``): progress and the next epoch go out straight from the message (50 pages on one run cost the database nothing per epoch); a status change or a gap in
the epochs is read back from the database, and so is everything every couple of seconds, so a
lost notification (or no Redis) only delays an update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.deps import EngineDep, RunId, SessionRoute, SettingsDep
from app.http.params import parse_int
from app.live import feeds as live
from app.live import streams
from app.live.feeds import sse
from app.live.once import LogOnce, cause_of
from app.store import points
from app.store.models import MAX_ID, TERMINAL, Run
from app.store.schemas import RunOut

log = logging.getLogger(__name__)
stream_errors = LogOnce(log, interval=60.0)
router = APIRouter(route_class=SessionRoute, tags=["runs"])

POLL_SECONDS = 2.0
# With live notifications, the database is only a safety net (a notification lost in a Redis
# restart); reading it every 2 s for each of 50 open pages cost the web server more than all
# the notifications together.
LIVE_POLL_SECONDS = 10.0
KEEPALIVE_SECONDS = 15.0


def snapshot(engine: Engine, run_id: int, after_epoch: int) -> tuple[dict | None, list[dict]]:
    """The run JSON (None if deleted) and its epochs after ``after_epoch``, grouped."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None, []
        return RunOut.of(run).model_dump(mode="json"), points.load_epochs(
            session, run_id, after_epoch
        )


def _progress(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("epoch", "step", "total_steps", "progress")}


async def event_stream(
    engine: Engine,
    redis_url: str,
    run_id: int,
    after_epoch: int,
    is_disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float | None = None,
) -> AsyncIterator[str]:
    # Subscribed before the replay, so nothing published in between is missed.
    async with live.follow(redis_url, run_id) as (listener, flowing):
        if poll_seconds is None:
            poll_seconds = LIVE_POLL_SECONDS if flowing else POLL_SECONDS
        last_run: dict[str, Any] = {}
        last_epoch = after_epoch
        read_db, next_read, last_sent = True, 0.0, time.monotonic()
        while True:
            out: list[str] = []
            if read_db or time.monotonic() >= next_read:
                run, epochs = await to_thread.run_sync(snapshot, engine, run_id, last_epoch)
                if run is None:
                    return
                changed = not last_run or any(
                    run[k] != last_run[k] for k in ("status", "cancel_requested")
                )
                if changed and run["status"] not in TERMINAL:
                    out.append(sse("status", run))
                for epoch in epochs:
                    last_epoch = epoch["epoch"]
                    out.append(sse("epoch", epoch, event_id=last_epoch))
                if run["status"] in TERMINAL:
                    for chunk in out:
                        yield chunk
                    yield sse("status", run)  # the final state, after the last epoch
                    return
                if last_run and run["step"] != last_run["step"]:
                    out.append(sse("progress", _progress(run)))
                last_run, read_db = run, False
                next_read = time.monotonic() + poll_seconds
            else:
                message = await _next(listener, flowing, next_read - time.monotonic())
                event, data = (message["event"], message["data"]) if message else (None, None)
                if event == "progress":
                    last_run = {**last_run, **data}
                    out.append(message["text"])
                elif event == "epoch" and data["epoch"] == last_epoch + 1:
                    # The sink publishes after its commit: this is what the database holds.
                    # Taking it from the message spares one read per page per epoch.
                    last_epoch = data["epoch"]
                    out.append(message["text"])
                elif event is not None and not (event == "epoch" and data["epoch"] <= last_epoch):
                    # A status change, a missed epoch, or no Redis: the database has it.
                    read_db = True
            for chunk in out:
                yield chunk
            if out:
                last_sent = time.monotonic()
            else:
                # Starlette ends the stream itself when the page goes away while we write;
                # a quiet stream asks.
                if await is_disconnected():
                    return
                if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                    last_sent = time.monotonic()
                    yield ": keepalive\n\n"


async def _next(listener: live.Listener, flowing: bool, timeout: float) -> dict[str, Any] | None:
    if not flowing:
        await asyncio.sleep(max(0.0, timeout))
        return None
    return await listener.next(max(0.0, timeout))


def _exists(engine: Engine, run_id: int) -> bool:
    with Session(engine) as session:
        return session.get(Run, run_id) is not None


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        429: {"description": "this client holds MATCHLAB_MAX_STREAMS_PER_CLIENT streams"},
        503: {"description": "the server holds MATCHLAB_MAX_STREAMS streams"},
    },
)
async def run_events(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    run_id: RunId,
    after: int = Query(
        0, ge=0, le=MAX_ID, description="skip the epochs up to this one (already shown)"
    ),
    last_event_id: str | None = Header(None),
) -> StreamingResponse:
    """Server-sent events: replay, then live epochs, progress and status; closes when done.

    A client holding ``MATCHLAB_MAX_STREAMS_PER_CLIENT`` streams gets 429, and any client 503
    once the server holds ``MATCHLAB_MAX_STREAMS``, both with ``Retry-After``."""
    # A page sends ?after= for the epochs it drew from the HTML; its EventSource adds
    # Last-Event-ID when it reconnects: the later of the two wins.
    if last_event_id:
        after = max(after, parse_int(last_event_id, "Last-Event-ID"))
    if not await to_thread.run_sync(_exists, engine, run_id):
        raise HTTPException(404, f"run {run_id} not found")
    client = request.client.host if request.client else "unknown"
    release, code, reason = request.app.state.streams.take(client)
    if release is None:
        retry = {"Retry-After": str(streams.RETRY_SECONDS)}
        raise HTTPException(code, reason, headers=retry)
    stream = event_stream(engine, settings.redis_url, run_id, after, request.is_disconnected)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return CappedStream(
        _logged(stream, run_id), release, media_type="text/event-stream", headers=headers
    )


class CappedStream(StreamingResponse):
    """A stream that gives its place back (``StreamCaps``) however it ends: finished, closed by
    the page, or cancelled before its first event."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **kwargs: Any):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _logged(stream: AsyncIterator[str], run_id: int) -> AsyncIterator[str]:
    """The stream, ending quietly on a failure (the page reconnects): logged once per cause
    per interval, with its traceback, rather than once per stream (a thousand streams out of
    file handles wrote the same traceback 186,270 times in 30 s)."""
    try:
        async for chunk in stream:
            yield chunk
    except (OSError, SQLAlchemyError) as exc:
        stream_errors.log(
            logging.ERROR, cause_of(exc), "event stream of run %s failed: %s", run_id, exc,
            exc_info=exc,
        )  # fmt: skip

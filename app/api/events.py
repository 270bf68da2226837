"""Server-sent events for one run: a replay of what is stored, then live updates.

Events (``data`` is JSON):
- ``status``: the run JSON; sent at the start and on every change while the run is queued or
  running, and as the very last event once it has finished (after its final epochs), after which
  the server closes the stream. Pages should ``close()`` their EventSource then, or it reconnects.
- ``epoch`` (``id`` = epoch): ``{"epoch", "step", "wall_time", "metrics": {key: value}}``, once per
  finished epoch, in order. A reconnecting EventSource sends ``Last-Event-ID`` and gets only the
  epochs after it.
- ``progress``: ``{"epoch", "step", "total_steps", "progress"}`` every few seconds while training.

Live updates arrive through Redis pub/sub; the stream also re-reads the database whenever it has
been quiet for a couple of seconds, so a lost notification (or no Redis) only delays an update.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from anyio import to_thread
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.api.deps import EngineDep, SessionRoute, SettingsDep
from app.models import TERMINAL, MetricPoint, Run
from app.notify import channel
from app.schemas import RunOut

log = logging.getLogger(__name__)
router = APIRouter(route_class=SessionRoute, tags=["runs"])

POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def snapshot(engine: Engine, run_id: int, after_epoch: int) -> tuple[dict | None, list[dict]]:
    """The run JSON (None if deleted) and its epochs after ``after_epoch``, grouped."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None, []
        points = session.exec(
            select(MetricPoint)
            .where(MetricPoint.run_id == run_id, col(MetricPoint.epoch) > after_epoch)
            .order_by(MetricPoint.epoch, MetricPoint.key)
        )
        epochs: dict[int, dict[str, Any]] = {}
        for p in points:
            entry = epochs.setdefault(
                p.epoch, {"epoch": p.epoch, "step": p.step, "wall_time": p.wall_time, "metrics": {}}
            )
            entry["metrics"][p.key] = p.value
        return RunOut.of(run).model_dump(mode="json"), [epochs[e] for e in sorted(epochs)]


def _progress(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("epoch", "step", "total_steps", "progress")}


async def event_stream(
    engine: Engine,
    redis_url: str,
    run_id: int,
    after_epoch: int,
    is_disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[str]:
    client = aioredis.from_url(redis_url, socket_connect_timeout=2)
    pubsub = client.pubsub()
    try:
        # Subscribe before the replay, so nothing published in between is missed.
        await pubsub.subscribe(channel(run_id))
    except aioredis.RedisError as exc:
        log.warning("live updates off for run %s (%s); polling the database", run_id, exc)
        pubsub = None
    try:
        last_run: dict[str, Any] | None = None
        last_epoch = after_epoch
        quiet = 0.0
        while True:
            run, epochs = await to_thread.run_sync(snapshot, engine, run_id, last_epoch)
            if run is None:
                return
            changed = last_run is None or any(
                run[k] != last_run[k] for k in ("status", "cancel_requested")
            )
            if changed and run["status"] not in TERMINAL:
                yield sse("status", run)
            for epoch in epochs:
                last_epoch = epoch["epoch"]
                yield sse("epoch", epoch, event_id=last_epoch)
            if run["status"] in TERMINAL:
                yield sse("status", run)  # the final state, after the last epoch
                return
            if last_run is not None and run["step"] != last_run["step"]:
                yield sse("progress", _progress(run))
            last_run = run
            message = await _next_message(pubsub, poll_seconds)
            while message is not None:
                if message["event"] == "progress":
                    last_run = {**last_run, **message["data"]}
                    yield sse("progress", message["data"])
                    message = await _next_message(pubsub, 0)
                else:
                    break  # epochs and status changes are read back from the database
            quiet = 0.0 if message else quiet + poll_seconds
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keepalive\n\n"
            if await is_disconnected():
                return
    finally:
        if pubsub is not None:
            await pubsub.aclose()
        await client.aclose()


async def _next_message(pubsub: Any, timeout: float) -> dict[str, Any] | None:
    if pubsub is None:
        await asyncio.sleep(timeout)
        return None
    try:
        raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
    except aioredis.RedisError:
        await asyncio.sleep(timeout)
        return None
    return json.loads(raw["data"]) if raw else None


def _exists(engine: Engine, run_id: int) -> bool:
    with Session(engine) as session:
        return session.get(Run, run_id) is not None


@router.get("/runs/{run_id}/events", response_class=StreamingResponse)
async def run_events(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    run_id: int,
    last_event_id: str | None = Header(None),
) -> StreamingResponse:
    """Server-sent events: replay, then live epochs, progress and status; closes when done."""
    if not await to_thread.run_sync(_exists, engine, run_id):
        raise HTTPException(404, f"run {run_id} not found")
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    stream = event_stream(engine, settings.redis_url, run_id, after, request.is_disconnected)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

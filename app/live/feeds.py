"""One Redis subscription per run per web process, shared by every page following that run.

Fifty pages on one run used to be fifty subscriptions, each message read, parsed and turned
into event text fifty times. Now one task reads the run's channel, parses each message once and
hands the same object to every open stream; a stream reads the database only on what the
message cannot tell it (see ``app.api.events``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import redis.asyncio as aioredis

from app.live.notify import channel

log = logging.getLogger(__name__)

# A message that says "something may have been missed": Redis went away, or a slow page's
# queue overflowed. Its reader should look at the database.
LOST: dict[str, Any] = {"event": "lost", "data": None}
QUEUE_LIMIT = 1000
RETRY_SECONDS = 2.0
STOP_SECONDS = 5.0


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One server-sent event, as it goes on the wire."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def _with_text(message: dict[str, Any]) -> dict[str, Any]:
    # Epochs and progress go to every page as they are: turn them into text once, not per page.
    event, data = message.get("event"), message.get("data")
    if event == "epoch":
        return {**message, "text": sse("epoch", data, event_id=data["epoch"])}
    if event == "progress":
        return {**message, "text": sse("progress", data)}
    return message


@dataclass(eq=False)
class Listener:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def put(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # This page reads slower than the run reports; it catches up from the database.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(LOST)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class RunFeed:
    """The subscription to one run's channel and the listeners it feeds."""

    def __init__(self, redis_url: str, run_id: int) -> None:
        self.redis_url = redis_url
        self.run_id = run_id
        self.listeners: set[Listener] = set()
        self.ready = asyncio.Event()
        self.live = False  # subscribed (else the listeners poll the database)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._pubsub = None
        self._client = aioredis.from_url(self.redis_url, socket_connect_timeout=2)
        self._pubsub = self._client.pubsub()
        try:
            await self._pubsub.subscribe(channel(self.run_id))
            self.live = True
            self._task = asyncio.create_task(self._pump())
        except aioredis.RedisError as exc:
            log.warning("live updates off for run %s (%s); polling the database", self.run_id, exc)
        finally:
            self.ready.set()

    async def _pump(self) -> None:
        while True:
            try:
                raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            except aioredis.RedisError:
                # redis-py subscribes again on the next call once Redis is back.
                self._send(LOST)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if raw is not None:
                self._send(_with_text(json.loads(raw["data"])))

    def _send(self, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener.put(message)

    async def stop(self) -> None:
        """Unsubscribe and close the connection, whatever state the pump or Redis is in."""
        try:
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        finally:
            try:
                if self._pubsub is not None:
                    await self._pubsub.aclose()
            except (aioredis.RedisError, OSError) as exc:
                log.debug("closing run %s's subscription: %s", self.run_id, exc)
            finally:
                await self._client.aclose()


_feeds: dict[tuple[str, int, int], RunFeed] = {}


@asynccontextmanager
async def follow(redis_url: str, run_id: int) -> AsyncIterator[tuple[Listener, bool]]:
    """A listener on the run's live messages, and whether they flow (False: Redis is down)."""
    # One feed per event loop too: a feed's pump task belongs to the loop that started it (two
    # servers in one process, as in tests, must not share one).
    key = (redis_url, run_id, id(asyncio.get_running_loop()))
    feed = _feeds.get(key)
    if feed is None:
        # Registered before the first await, so streams opening together share one feed.
        feed = _feeds[key] = RunFeed(redis_url, run_id)
        try:
            await feed.start()
        except BaseException:  # cancelled while subscribing: the page went away at once
            _feeds.pop(key, None)
            with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_SECONDS):
                await feed.stop()
            raise
    await feed.ready.wait()
    listener = Listener()
    feed.listeners.add(listener)
    try:
        yield listener, feed.live
    finally:
        feed.listeners.discard(listener)
        if not feed.listeners and _feeds.get(key) is feed:
            del _feeds[key]
            # The stream usually ends because its page went away: Starlette cancels it, and an
            # unshielded await here would be cancelled at once, leaving the subscription (a
            # Redis client, an open file) behind for good. Shielded, with a bound.
            with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_SECONDS):
                await feed.stop()

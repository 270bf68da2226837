"""One Redis connection per web process, subscribed to the followed runs' channels and shared
by every page following them.

Fifty pages on one run used to be fifty subscriptions, each message read, parsed and turned
into event text fifty times; a thousand runs followed were a thousand connections. Now one task
reads every followed channel, parses each message once and hands the same object to every open
stream of that run; a stream reads the database only on what the message cannot tell it (see
``app.api.events``).
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
from app.live.once import LogOnce, cause_of

log = logging.getLogger(__name__)
redis_errors = LogOnce(log, interval=60.0)

# A message that says "something may have been missed": Redis went away, or a slow page's
# queue overflowed. Its reader should look at the database.
LOST: dict[str, Any] = {"event": "lost", "data": None}
QUEUE_LIMIT = 1000
RETRY_SECONDS = 2.0
STOP_SECONDS = 5.0
SUBSCRIBE_SECONDS = 3.0


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


class Hub:
    """One Redis connection per web process (and event loop), subscribed to the channels of the
    runs its streams follow, fanning each message out to that run's listeners.

    A connection per followed run was a socket and a file handle per run: a thousand followed
    runs took a thousand of each. Channels are subscribed while a stream follows the run and
    unsubscribed when its last stream ends; the connection closes when no stream is left.
    Redis failures are logged once per cause per interval (``LogOnce``), however many streams
    see them; while Redis is down, new streams poll the database without trying it for a while.
    """

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.listeners: dict[int, set[Listener]] = {}
        self._lock = asyncio.Lock()  # subscribe, unsubscribe and teardown, one at a time
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._task: asyncio.Task | None = None
        self._subscribed: set[int] = set()
        self._down_until = 0.0

    async def add(self, run_id: int, listener: Listener) -> bool:
        """Follow ``run_id``; True when its messages flow (False: poll the database)."""
        self.listeners.setdefault(run_id, set()).add(listener)
        loop = asyncio.get_running_loop()
        async with self._lock:
            if run_id in self._subscribed:
                return True
            if loop.time() < self._down_until:
                return False
            try:
                if self._pubsub is None:
                    self._client = aioredis.from_url(self.redis_url, socket_connect_timeout=2)
                    self._pubsub = self._client.pubsub()
                # With the run, any followed run left unsubscribed by an earlier failure.
                wanted = [r for r in self.listeners if r not in self._subscribed]
                # Bounded: a Redis that accepts connections but never answers must not hold
                # every new stream behind this lock.
                await asyncio.wait_for(
                    self._pubsub.subscribe(*map(channel, wanted)), SUBSCRIBE_SECONDS
                )
            except (aioredis.RedisError, OSError, TimeoutError) as exc:
                self._down_until = loop.time() + RETRY_SECONDS
                redis_errors.warning(
                    cause_of(exc), "live updates off (%r); streams poll the database", exc
                )
                await self._close()  # a half-made connection is of no use; the next try starts anew
                return False
            self._subscribed.update(wanted)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._pump())
            return True

    async def remove(self, run_id: int, listener: Listener) -> None:
        followers = self.listeners.get(run_id)
        if followers is None:
            return
        followers.discard(listener)
        if followers:
            return
        del self.listeners[run_id]
        async with self._lock:
            if run_id in self.listeners or run_id not in self._subscribed:
                return  # followed again meanwhile, or never subscribed (Redis was down)
            self._subscribed.discard(run_id)
            if not self._subscribed:
                await self._close()
                return
            try:
                await asyncio.wait_for(self._pubsub.unsubscribe(channel(run_id)), SUBSCRIBE_SECONDS)
            except (aioredis.RedisError, OSError, TimeoutError) as exc:
                log.debug("unsubscribing from run %s: %s", run_id, exc)

    async def _pump(self) -> None:
        while True:
            try:
                raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            except (aioredis.RedisError, OSError) as exc:
                # redis-py subscribes again on the next call once Redis is back.
                redis_errors.warning(cause_of(exc), "live updates interrupted: %s", exc)
                self._send_all(LOST)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if raw is None:
                continue
            followers = self.listeners.get(_run_of(raw["channel"]))
            if followers:
                message = _with_text(json.loads(raw["data"]))  # parsed once for all its pages
                for listener in list(followers):
                    listener.put(message)

    def _send_all(self, message: dict[str, Any]) -> None:
        for followers in list(self.listeners.values()):
            for listener in list(followers):
                listener.put(message)

    async def _close(self) -> None:
        """Stop the pump and close the connection, whatever state the pump or Redis is in."""
        task, pubsub, client = self._task, self._pubsub, self._client
        self._task = self._pubsub = self._client = None
        self._subscribed.clear()
        self._send_all(LOST)  # any stream still open catches up from the database
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            if pubsub is not None:
                await pubsub.aclose()
        except (aioredis.RedisError, OSError) as exc:
            log.debug("closing the live-updates subscription: %s", exc)
        finally:
            if client is not None:
                await client.aclose()


def _run_of(name: bytes | str) -> int:
    text = name.decode() if isinstance(name, bytes) else name
    return int(text.rsplit(":", 1)[1])


_hubs: dict[tuple[str, int], Hub] = {}


@asynccontextmanager
async def follow(redis_url: str, run_id: int) -> AsyncIterator[tuple[Listener, bool]]:
    """A listener on the run's live messages, and whether they flow (False: Redis is down)."""
    # One hub per event loop too: its pump task belongs to the loop that started it (two
    # servers in one process, as in tests, must not share one).
    key = (redis_url, id(asyncio.get_running_loop()))
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = Hub(redis_url)
    listener = Listener()
    try:
        flowing = await hub.add(run_id, listener)
        yield listener, flowing
    finally:
        # The stream usually ends because its page went away: Starlette cancels it, and an
        # unshielded await here would be cancelled at once, leaving the subscription (a
        # Redis client, an open file) behind for good. Shielded, with a bound.
        with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_SECONDS):
            await hub.remove(run_id, listener)
        if not hub.listeners and _hubs.get(key) is hub:
            del _hubs[key]  # (a stream joining now makes a new hub: none is mid-way into this)

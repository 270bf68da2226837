"""Live-update notifications over Redis pub/sub (one channel per run).

Messages are JSON ``{"event": name, "data": {...}}`` with the event names the SSE stream uses:
``epoch`` (metrics of one finished epoch), ``progress`` (step updates) and ``status`` (the run
JSON after a status change). Notifications are best effort: the database is the truth and the
SSE stream also polls it, so a lost message only delays a page by a few seconds.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import redis

from app.queue import breaker, redis_timeout
from app.store.models import Run
from app.store.schemas import RunOut

log = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "matchlab:worker:"


def channel(run_id: int) -> str:
    return f"matchlab:run:{run_id}"


@lru_cache
def redis_client(url: str) -> redis.Redis:
    timeout = redis_timeout()
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def publish_status(url: str, run: Run | None) -> None:
    """The one place a status change is announced: the run's JSON as the API returns it."""
    if run is not None:
        publish(url, run.id, "status", RunOut.of(run).model_dump(mode="json"))


def publish(url: str, run_id: int, event: str, data: dict[str, Any]) -> None:
    if breaker.open():
        return  # Redis failed a moment ago: pages catch up from the database
    try:
        redis_client(url).publish(channel(run_id), json.dumps({"event": event, "data": data}))
    except redis.RedisError as exc:
        breaker.failed()
        log.warning("could not publish %s for run %s: %s", event, run_id, exc)

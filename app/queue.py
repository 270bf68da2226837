"""Enqueue run ids for the workers, and the Redis names both sides agree on.

The app sends tasks by name, so it never imports the worker package (or torch through it).
A failed enqueue leaves the run `queued` in the database, which stays the truth; the workers'
watchdog re-enqueues queued runs that have no message in Redis (``worker/recovery.py``). The
API answers such a submission ``202 Accepted`` (stored, not yet queued) instead of ``201``.

A Redis that accepts connections but never answers must not hold every request: calls time out
after ``MATCHLAB_REDIS_TIMEOUT_SECONDS``, and after a failure the ``breaker`` skips Redis for
``SKIP_SECONDS`` (a sweep of 200 runs waits once, not 200 times).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TRAIN_TASK = "matchlab.train_run"
QUEUE = "matchlab"
SKIP_SECONDS = 5.0


def redis_timeout() -> float:
    """Seconds a Redis call may take (``MATCHLAB_REDIS_TIMEOUT_SECONDS``)."""
    from app.config import get_settings

    return get_settings().redis_timeout_seconds


class Breaker:
    """After a Redis call fails, report "down" for ``SKIP_SECONDS`` without trying again."""

    def __init__(self) -> None:
        self._down_until = 0.0

    def open(self) -> bool:
        return time.monotonic() < self._down_until

    def failed(self) -> None:
        self._down_until = time.monotonic() + SKIP_SECONDS

    def reset(self) -> None:
        self._down_until = 0.0


breaker = Breaker()


_producer_lock = threading.Lock()


def producer(broker_url: str) -> Celery:
    # The first submissions can arrive together on several threads: importing celery (a lazy
    # module) at the same moment in two threads fails ("cannot import name 'Celery'").
    with _producer_lock:
        return _producer(broker_url)


@lru_cache
def _producer(broker_url: str) -> Celery:
    from celery import Celery

    celery = Celery("matchlab-producer", broker=broker_url)
    timeout = redis_timeout()
    celery.conf.update(
        # Fail fast when Redis is away instead of retrying for minutes inside an HTTP request.
        broker_transport_options={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "max_retries": 0,
        },
        broker_connection_timeout=timeout,
        broker_connection_retry_on_startup=False,
        task_default_queue=QUEUE,
    )
    return celery


def enqueue(broker_url: str, run_id: int) -> bool:
    """Send "train run ``run_id``" to the workers; False (and a log line) when Redis is down.

    Call it with no database connection held: it may wait ``redis_timeout()``."""
    if breaker.open():
        return False
    try:
        producer(broker_url).send_task(TRAIN_TASK, args=[run_id], queue=QUEUE, retry=False)
    except Exception as exc:  # any broker error: the run stays queued in the DB
        breaker.failed()
        log.warning("could not enqueue run %s on %s: %s", run_id, broker_url, exc)
        return False
    return True


def enqueue_all(broker_url: str, run_ids: list[int]) -> bool:
    """``enqueue`` each; False when any could not be sent (the watchdog sends it later)."""
    return all([enqueue(broker_url, run_id) for run_id in run_ids])


def _run_id(raw: bytes | str) -> int | None:
    """The run id a kombu message (as stored in Redis) carries, or None for anything else."""
    try:
        message = json.loads(raw)
        if message.get("headers", {}).get("task") != TRAIN_TASK:
            return None
        body: Any = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]  # protocol 2: [args, kwargs, embed]
        return int(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def queued_run_ids(broker_url: str) -> set[int]:
    """Run ids with a message waiting in Redis or taken by a worker and not yet acknowledged.

    Raises ``redis.RedisError`` when Redis does not answer: then nothing is known to be lost.
    """
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        # kombu keeps priority levels in lists named queue + "\x06\x16" + level.
        lists = [QUEUE, *client.scan_iter(f"{QUEUE}\x06\x16*")]
        raws = [raw for name in lists for raw in client.lrange(name, 0, -1)]
        # A worker's taken messages wait in the "unacked" hash as [message, exchange, key].
        for entry in client.hvals("unacked"):
            try:
                raws.append(json.dumps(json.loads(entry)[0]))
            except (ValueError, IndexError, TypeError):
                continue
    finally:
        client.close()
    return {run_id for run_id in map(_run_id, raws) if run_id is not None}

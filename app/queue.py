"""Enqueue run ids for the workers, and the Redis names both sides agree on.

The app sends tasks by name, so it never imports the worker package (or torch through it).
A failed enqueue leaves the run `queued` in the database, which stays the truth; the workers'
watchdog re-enqueues queued runs that have no message in Redis (``worker/recovery.py``).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TRAIN_TASK = "matchlab.train_run"
QUEUE = "matchlab"
# Fail fast when Redis is down instead of retrying for minutes inside an HTTP request.
BROKER_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10, "max_retries": 1}


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
    celery.conf.update(
        broker_transport_options=BROKER_OPTIONS,
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=False,
        task_default_queue=QUEUE,
    )
    return celery


def enqueue(broker_url: str, run_id: int) -> bool:
    """Send "train run ``run_id``" to the workers; False (and a log line) when Redis is down."""
    try:
        producer(broker_url).send_task(TRAIN_TASK, args=[run_id], queue=QUEUE, retry=False)
    except Exception as exc:  # any broker error: the run stays queued in the DB
        log.warning("could not enqueue run %s on %s: %s", run_id, broker_url, exc)
        return False
    return True


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

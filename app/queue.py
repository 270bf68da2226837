"""Enqueue run ids for the workers, and the Redis names both sides agree on.

The app sends tasks by name, so it never imports the worker package (or torch through it).
A failed enqueue leaves the run `queued` in the database, which stays the truth; a worker start
re-enqueues such runs.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TRAIN_TASK = "matchlab.train_run"
QUEUE = "matchlab"
# Fail fast when Redis is down instead of retrying for minutes inside an HTTP request.
BROKER_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10, "max_retries": 1}


@lru_cache
def producer(broker_url: str) -> Celery:
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

"""The Celery app: one run at a time per worker process, acknowledged on receipt.

Training lasts hours, so the message is acknowledged as soon as it arrives (no late ack: Redis
would redeliver an unacknowledged message after its visibility timeout and the run would train
twice). A worker that dies mid-run is covered by the database instead: its heartbeat goes stale
and the next worker to start resumes the run from its checkpoint (worker/recovery.py).

One worker per GPU: ``CUDA_VISIBLE_DEVICES=0 matchlab worker``, ``CUDA_VISIBLE_DEVICES=1 ...``.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from app.config import get_settings
from app.queue import QUEUE

log = logging.getLogger(__name__)

celery_app = Celery("matchlab", broker=get_settings().redis_url, include=["worker.tasks"])
celery_app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=False,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    # Do not hold a second run's message while training: another worker may be idle.
    worker_disable_prefetch=True,
    worker_concurrency=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

# Set when the worker is asked to stop: the running training stops at its next step and goes
# back to the queue (keeping its checkpoint) instead of holding the shutdown for hours.
SHUTDOWN = threading.Event()
_presence: list[threading.Event] = []


@worker_shutting_down.connect
def _on_shutting_down(**_: Any) -> None:
    SHUTDOWN.set()


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    from worker.presence import start_presence
    from worker.recovery import recover_stale_runs

    settings = get_settings()
    name = getattr(sender, "hostname", None) or socket.gethostname()
    _presence.append(start_presence(settings.redis_url, name))
    try:
        recover_stale_runs(settings)
    except Exception:  # a broken DB shows in the first task too; the worker should still start
        log.exception("could not recover runs of dead workers")


@worker_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    for stop in _presence:
        stop.set()

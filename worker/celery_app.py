"""The Celery app: one run per pool process (a worker's *slot*), acknowledged on receipt.

Training lasts hours, so the message is acknowledged as soon as it arrives (no late ack: Redis
would redeliver an unacknowledged message after its visibility timeout and the run would train
twice). A worker that dies mid-run is covered by the database instead: its heartbeat goes stale
and the next worker to start resumes the run from its checkpoint (worker/recovery.py).

A worker holds ``--slots N`` trainings at once (worker/slots.py): with N > 1 Celery's prefork
pool runs N processes, each training one run with its own thread budget; with N = 1 the solo pool
trains in the worker process itself. One worker per GPU: ``CUDA_VISIBLE_DEVICES=0 matchlab
worker``, ``CUDA_VISIBLE_DEVICES=1 ...``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from typing import Any

from celery import Celery
from celery.signals import (
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from app.config import get_settings
from app.queue import QUEUE

celery_app = Celery("matchlab", broker=get_settings().redis_url, include=["worker.tasks"])
celery_app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=False,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    # Do not hold a second run's message while training: another worker may be idle.
    worker_disable_prefetch=True,
    worker_concurrency=1,
    broker_connection_retry_on_startup=True,
)

# Set when the worker is asked to stop: the running trainings stop at their next step and go back
# to the queue (keeping their checkpoints) instead of holding the shutdown for hours. A process-
# shared event: the main process sets it, the pool processes it forked see it.
SHUTDOWN = multiprocessing.get_context("fork").Event()
# This process's slot (1-based): the pool process's index + 1; 1 in a solo worker.
SLOT = 1
# The worker's main process: this module is loaded there, before the prefork pool forks.
WORKER_PID = os.getpid()
_background: list[threading.Event] = []  # stop flags of the presence and watchdog threads


@worker_shutting_down.connect
def _on_shutting_down(**_: Any) -> None:
    SHUTDOWN.set()


@worker_process_init.connect
def _on_pool_process_start(**_: Any) -> None:
    """In each prefork pool process: learn the slot, drop the parent's database connections and
    die with the worker (its run is then resumed from its checkpoint by a live worker).

    The solo pool sends this signal too, in the worker process itself: there the worker's own
    parent is whatever launched it (a shell, ``setsid … &``), which must not take it down."""
    global SLOT
    if os.getpid() == WORKER_PID:
        return  # solo pool: no pool process; SLOT stays 1
    from billiard.process import current_process

    from app.stack.children import die_with_parent
    from app.store.db import after_fork

    SLOT = int(getattr(current_process(), "index", 0) or 0) + 1
    after_fork()
    die_with_parent(signal.SIGKILL)


@worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    from worker.presence import start_presence
    from worker.recovery import start_watchdog

    settings = get_settings()
    name = getattr(sender, "hostname", None) or socket.gethostname()
    # Its slots (pool size) show in /api/health and `matchlab status`.
    # (worker_ready's sender is the worker's consumer; its controller holds --concurrency.)
    slots = getattr(getattr(sender, "controller", sender), "concurrency", None)
    _background.append(start_presence(settings.redis_url, name, slots=slots))
    # Runs of dead workers are resumed from their checkpoints: now, and every so often.
    _background.append(start_watchdog(settings))


@worker_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    for stop in _background:
        stop.set()

"""``run_training(run_id)``: the whole life of one run on a worker, as a plain function.

No Celery here: the task in ``worker/tasks.py`` only passes the run id, so the same function
runs from a test, a notebook or another queue. The database row is the truth throughout:
a conditional update claims the run (a duplicate delivery finds it no longer queued and does
nothing), and every status change is a conditional update from ``running``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.config import Settings, get_settings
from app.live import notify
from app.queue import enqueue
from app.store.db import get_engine
from app.store.errors import storage_problem
from app.store.models import TERMINAL, Run, Status, utcnow
from ssl_core.contract.spec import error_messages
from worker.search_step import advance_search
from worker.sink import RunSink

log = logging.getLogger(__name__)

TrainFn = Callable[..., dict[str, Any]]


def _ssl_core_train() -> TrainFn:
    # Imported on first use: torch loads only in the process that actually trains.
    from ssl_core import train

    return train


def claim_run(engine: Engine, run_id: int, worker_name: str, slot: int | None = None) -> Run | None:
    """queued → running, only if still queued and not cancelled; the run, or None.

    ``slot``: which of the worker's slots trains it (worker/slots.py); its device is written
    when training starts (``RunSink``)."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.exec(
            update(Run)
            .where(
                col(Run.id) == run_id,
                col(Run.status) == Status.queued,
                col(Run.cancel_requested).is_(False),
            )
            .values(
                status=Status.running,
                heartbeat_at=now,
                clock_at=now,
                worker=worker_name,
                slot=slot,
                device=None,
            )  # fmt: skip
        ).rowcount
        if not claimed:
            session.rollback()
            return None
        run = session.get(Run, run_id)
        if run.started_at is None:
            run.started_at = now
        session.commit()
        return run


def set_status(engine: Engine, run_id: int, status: Status, **values: Any) -> Run | None:
    """running → ``status``; None when the row had already left ``running``."""
    if status != Status.queued:
        values.setdefault("finished_at", utcnow())
    with Session(engine, expire_on_commit=False) as session:
        changed = session.exec(
            update(Run)
            .where(col(Run.id) == run_id, col(Run.status) == Status.running)
            .values(status=status, **values)
        ).rowcount
        session.commit()
        return session.get(Run, run_id) if changed else None


def _stop_reason(engine: Engine, run_id: int) -> str | None:
    with Session(engine) as session:
        run = session.get(Run, run_id)
        return run.stop_reason if run is not None else None


def describe_error(exc: BaseException) -> str:
    """First line for lists (``Type: message``), then the traceback for the run page."""
    message = str(exc).strip() or repr(exc)
    if isinstance(exc, ValidationError):
        # A stored spec that no longer validates: pydantic's own text spans lines and links.
        message = "; ".join(f"{e['field']}: {e['message']}" for e in error_messages(exc))
    head = f"{type(exc).__name__}: {message}"
    if storage_problem(exc) == "disk full":
        head = f"disk full: {message} ({type(exc).__name__}); free space under MATCHLAB_HOME"
    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"{head}\n\n{trace}"


RECORD_ATTEMPTS = 8


def _record_failure(engine: Engine, run_id: int, error: str) -> Run | None:
    """``failed`` with ``error``, retried with back-off (≈ 4 min in all) while the store cannot
    be written: a full disk usually gets room back (the failed run's own temporary files are
    gone, someone deletes old runs), and the reason must land as soon as it does."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return set_status(engine, run_id, Status.failed, error=error)
        except Exception as exc:
            if storage_problem(exc) is None or attempt == RECORD_ATTEMPTS - 1:
                raise
            log.warning("run %s: cannot record its failure yet (%s); retrying", run_id, exc)
            time.sleep(min(60.0, 2.0**attempt))
    return None


def run_training(
    run_id: int,
    *,
    settings: Settings | None = None,
    train: TrainFn | None = None,
    stop_event: threading.Event | None = None,
    worker_name: str | None = None,
    slot: int | None = None,
) -> str | None:
    """Claim run ``run_id``, train it, record the outcome; the final status, None if not claimed.

    ``train`` defaults to ``ssl_core.train``; ``stop_event`` set (worker shutdown) stops at the
    next step and puts the run back in the queue to resume from its checkpoint; ``slot`` is the
    worker slot it trains in (shown on the runs page).
    """
    settings = settings or get_settings()
    engine = get_engine(settings)
    run = claim_run(engine, run_id, worker_name or socket.gethostname(), slot)
    if run is None:
        log.info(
            "run %s is not queued (duplicate delivery, cancelled or deleted); skipping", run_id
        )
        return None
    notify.publish_status(settings.redis_url, run)
    sink = RunSink(run_id, engine, settings.redis_url, settings.heartbeat_seconds, stop_event)
    sink.start()
    try:
        train = train or _ssl_core_train()
        out_dir = settings.run_dir(run_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = train(run.spec, out_dir=out_dir, callbacks=[sink], data_dir=settings.datasets_dir)
    except Exception as exc:
        sink.close()
        log.exception("run %s failed", run_id)
        final = _record_failure(engine, run_id, describe_error(exc))
    else:
        sink.close()
        summary = summary or sink.summary  # train's return value is the trainer's summary
        if sink.cancelled:
            # Stopped early by its search (app/store/early_stop.py): its own terminal state.
            pruned = _stop_reason(engine, run_id) is not None
            final = set_status(
                engine, run_id, Status.pruned if pruned else Status.cancelled, summary=summary
            )
        elif summary.get("stopped"):
            # Worker shutdown: back to the queue; the next worker resumes from the checkpoint.
            final = set_status(
                engine,
                run_id,
                Status.queued,
                summary=summary,
                worker=None,
                slot=None,
                enqueued_at=utcnow(),
            )
            if final is not None:
                enqueue(settings.redis_url, run_id)
        else:
            final = set_status(engine, run_id, Status.succeeded, summary=summary)
    finally:
        sink.close()  # also on KeyboardInterrupt: the heartbeat goes stale and a worker resumes it
    notify.publish_status(settings.redis_url, final)
    if final is not None and final.status in TERMINAL:  # a search's trial may have ended
        advance_search(settings, final.sweep_id)
    return final.status if final is not None else None

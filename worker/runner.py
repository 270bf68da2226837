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
from functools import partial
from pathlib import Path
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
from app.store.run_files import read_identity, run_dir, write_identity
from ssl_core.contract.spec_errors import error_messages
from worker.recovery import settle_cancelled_queued
from worker.search_step import advance_search, stop_early
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


class ForeignRunFolder(RuntimeError):
    """The run's folder names another run in its identity file: never trained into."""


def claim_folder(settings: Settings, run: Run) -> Path:
    """The run's own folder (``runs/<uid>/``) with its identity file; refused when that file
    names another run (a folder copied or restored by hand)."""
    folder = run_dir(settings.runs_dir, run)  # claimed, so running: always runs/<uid>/
    found = read_identity(folder)
    if found == {}:
        raise ForeignRunFolder(f"{folder}/run.json cannot be read, so the folder may not be this "
                               f"run's ({run.uid}); it is left as it is")  # fmt: skip
    if found is not None and found.get("uid") != run.uid:
        spec = found.get("spec") or {}
        raise ForeignRunFolder(
            f"{folder} belongs to run {found.get('uid')} (seed {spec.get('seed')}, "
            f"{spec.get('num_labels')} labels), not this run ({run.uid}); it is left as it is"
        )
    write_identity(folder, run)
    return folder


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


def _cancel_status(engine: Engine, run_id: int) -> Status:
    """``pruned`` when its search stopped it early (a ``stop_reason``, app/domain/early_stop.py),
    else ``cancelled``: a stop by its search is its own terminal state."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        return Status.pruned if run is not None and run.stop_reason else Status.cancelled


def _back_to_queue(engine: Engine, run_id: int, summary: dict[str, Any]) -> Run | None:
    """running → queued to resume later; cancelled instead when a cancel came in after the sink
    last read the flag (moments before the stop): no worker claims a queued run with the flag
    set, so it would wait forever."""
    with Session(engine, expire_on_commit=False) as session:
        changed = session.exec(
            update(Run)
            .where(
                col(Run.id) == run_id,
                col(Run.status) == Status.running,
                col(Run.cancel_requested).is_(False),
            )
            .values(status=Status.queued, summary=summary, worker=None, slot=None,
                    enqueued_at=utcnow())
        ).rowcount  # fmt: skip
        session.commit()
        if changed:
            return session.get(Run, run_id)
    return set_status(engine, run_id, _cancel_status(engine, run_id), summary=summary)


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
        # Queued with its cancel flag set (a cancel that raced a stop, older code): end it.
        settle_cancelled_queued(engine, settings.redis_url, [run_id])
        log.info(
            "run %s is not queued (duplicate delivery, cancelled or deleted); skipping", run_id
        )
        return None
    notify.publish_status(settings.redis_url, run)
    # A search's early stops are checked after every stored epoch of its runs.
    after_epoch = partial(stop_early, settings, run.sweep_id) if run.sweep_id else None
    sink = RunSink(
        run_id, engine, settings.redis_url, settings.heartbeat_seconds, stop_event, after_epoch
    )
    sink.start()
    try:
        train = train or _ssl_core_train()
        out_dir = claim_folder(settings, run)
        summary = train(
            run.spec,
            out_dir=out_dir,
            callbacks=[sink],
            data_dir=settings.datasets_dir,
            uid=run.uid,  # the trainer resumes only this run's checkpoint
        )
    except Exception as exc:
        sink.close()
        log.exception("run %s failed", run_id)
        final = _record_failure(engine, run_id, describe_error(exc))
    else:
        sink.close()
        summary = summary or sink.summary  # train's return value is the trainer's summary
        if sink.cancelled:
            final = set_status(engine, run_id, _cancel_status(engine, run_id), summary=summary)
        elif summary.get("stopped"):
            # Worker shutdown: back to the queue; the next worker resumes from the checkpoint.
            final = _back_to_queue(engine, run_id, summary)
            if final is not None and final.status == Status.queued:
                enqueue(settings.redis_url, run_id)
        else:
            final = set_status(engine, run_id, Status.succeeded, summary=summary)
    finally:
        sink.close()  # also on KeyboardInterrupt: the heartbeat goes stale and a worker resumes it
    notify.publish_status(settings.redis_url, final)
    if final is not None and final.status in TERMINAL:  # a search's trial may have ended
        advance_search(settings, final.sweep_id)
    return final.status if final is not None else None

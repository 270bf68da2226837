"""What live workers do about runs whose worker died.

A run left ``running`` with a stale heartbeat lost its worker (killed, out of memory, host gone).
Early acknowledgement means Redis will not redeliver it, so a live worker (when it starts, and
then every so often) puts it back in the queue to resume from its last checkpoint — or ends it
with the reason when it cannot. A ``queued`` run whose message is gone (Redis restarted empty,
or was down when the run was stored) is sent again. Every change is a conditional update, so two
workers starting together act on a run once; a message sent twice is harmless, because only
one delivery can claim the run (``worker.runner.claim_run``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.config import Settings, get_settings
from app.live import notify
from app.queue import enqueue, queued_run_ids
from app.store.db import get_engine
from app.store.models import Run, Status, utcnow
from app.store.run_files import run_dir
from worker.search_step import advance_searches

log = logging.getLogger(__name__)

# A run that kills its worker this many times (e.g. out of memory) is not tried again.
MAX_RECOVERIES = 3
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class Recovery:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def _verdict(run: Run, settings: Settings) -> tuple[Status, str | None]:
    if run.cancel_requested:  # stopped early by its search: pruned (app/domain/early_stop.py)
        return (Status.pruned if run.stop_reason else Status.cancelled), None
    if run.recoveries >= MAX_RECOVERIES:
        return Status.failed, (
            f"WorkerLost: the worker training this run stopped {run.recoveries + 1} times without "
            "finishing (killed or out of memory?); not resuming it again. Retry it to start over."
        )
    checkpoint = run_dir(settings.runs_dir, run) / CHECKPOINT_NAME
    if run.epoch > 0 and not checkpoint.is_file():
        return Status.failed, (
            f"WorkerLost: its worker stopped after epoch {run.epoch} and there is no checkpoint "
            f"at {checkpoint} to resume from (is MATCHLAB_HOME shared by all workers?). "
            "Retry it to start over."
        )
    return Status.queued, None


def recover_stale_runs(settings: Settings | None = None) -> Recovery:
    """Requeue (or end) every ``running`` run whose heartbeat is older than the stale limit."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    cutoff = utcnow() - timedelta(seconds=settings.stale_after_seconds)
    stale_beat = or_(col(Run.heartbeat_at).is_(None), col(Run.heartbeat_at) < cutoff)
    result = Recovery()
    with Session(engine, expire_on_commit=False) as session:
        stale = session.exec(select(Run).where(Run.status == Status.running, stale_beat)).all()
        for run in stale:
            status, error = _verdict(run, settings)
            values: dict = {"status": status, "worker": None, "slot": None}
            if status == Status.queued:
                values.update(recoveries=run.recoveries + 1, enqueued_at=utcnow())
            else:
                values.update(finished_at=utcnow(), error=error)
            changed = session.exec(
                update(Run)
                .where(col(Run.id) == run.id, col(Run.status) == Status.running, stale_beat)
                .values(**values)
            ).rowcount
            session.commit()
            if not changed:
                continue  # another worker got there first, or it just sent a heartbeat
            getattr(
                result, {"queued": "requeued", "pruned": "cancelled"}.get(status, status)
            ).append(run.id)
            session.refresh(run)
            notify.publish_status(settings.redis_url, run)
    for run_id in result.requeued:
        enqueue(settings.redis_url, run_id)
    if stale:
        log.warning(
            "runs whose worker died: requeued %s, failed %s, cancelled %s",
            result.requeued, result.failed, result.cancelled,
        )  # fmt: skip
    return result


def settle_cancelled_queued(
    engine: Engine, redis_url: str, run_ids: list[int] | None = None
) -> list[int]:
    """End as ``cancelled`` every queued run whose cancel flag is set (of ``run_ids``, or all).

    No worker claims such a run (``worker.runner.claim_run``), so sending it again would only be
    refused again; it got there when a cancel raced its worker's stop, or by older code."""
    flagged = (col(Run.status) == Status.queued, col(Run.cancel_requested).is_(True))
    with Session(engine, expire_on_commit=False) as session:
        query = select(Run).where(*flagged)
        if run_ids is not None:
            query = query.where(col(Run.id).in_(run_ids))
        ended = []
        for run in session.exec(query).all():
            changed = session.exec(
                update(Run)
                .where(col(Run.id) == run.id, *flagged)
                .values(
                    status=Status.pruned if run.stop_reason else Status.cancelled,
                    finished_at=utcnow(),
                    worker=None,
                    slot=None,
                )  # fmt: skip
            ).rowcount
            session.commit()
            if changed:
                session.refresh(run)
                ended.append(run)
    for run in ended:
        notify.publish_status(redis_url, run)
    if ended:
        log.info("queued runs with their cancel flag set, now cancelled: %s", [r.id for r in ended])
    return [run.id for run in ended]


def requeue_lost_runs(settings: Settings | None = None) -> list[int]:
    """Send again every run queued for longer than ``requeue_after_seconds`` with no message.

    A run whose message sits in Redis (waiting, or taken by a worker) is left alone; so is one
    stored moments ago, whose message the web server may be sending right now.
    """
    settings = settings or get_settings()
    try:
        live = queued_run_ids(settings.redis_url)
    except redis.RedisError as exc:
        log.info("not checking for lost queue messages: Redis does not answer (%s)", exc)
        return []
    engine = get_engine(settings)
    settle_cancelled_queued(
        engine, settings.redis_url
    )  # a run no worker would claim is ended, never sent again
    cutoff = utcnow() - timedelta(seconds=settings.requeue_after_seconds)
    sent_at = func.coalesce(col(Run.enqueued_at), col(Run.created_at))
    with Session(engine) as session:
        waiting = session.exec(
            select(Run.id)
            .where(Run.status == Status.queued, col(Run.cancel_requested).is_(False))
            .where(sent_at < cutoff)
            .order_by(Run.id)
        ).all()
        lost = [run_id for run_id in waiting if run_id not in live]
        if not lost:
            return []
        session.exec(update(Run).where(col(Run.id).in_(lost)).values(enqueued_at=utcnow()))
        session.commit()
    sent = [run_id for run_id in lost if enqueue(settings.redis_url, run_id)]
    log.warning("queued runs without a queue message, sent again: %s", sent)
    return sent


def start_watchdog(
    settings: Settings | None = None, interval: float | None = None
) -> threading.Event:
    """Recover now, then every ``interval`` seconds until set.

    The default interval is half the shorter of the stale and requeue limits.

    Checking only at start would miss a worker that dies while the others are already up, or
    that died moments before this one started (its heartbeat still looked fresh).
    """
    settings = settings or get_settings()
    limit = min(settings.stale_after_seconds, settings.requeue_after_seconds)
    interval = interval or max(1.0, limit / 2)
    stop = threading.Event()

    def loop() -> None:
        while True:
            for check in (recover_stale_runs, requeue_lost_runs, advance_searches):
                try:
                    check(settings)
                except Exception:  # the database may be briefly unreachable; try next round
                    log.exception("%s failed", check.__name__)
            if stop.wait(interval):
                return

    threading.Thread(target=loop, name="run-watchdog", daemon=True).start()
    return stop

"""What live workers do about runs whose worker died.

A run left ``running`` with a stale heartbeat lost its worker (killed, out of memory, host gone).
Early acknowledgement means Redis will not redeliver it, so a live worker (when it starts, and
then every so often) puts it back in the queue to resume from its last checkpoint — or ends it
with the reason when it cannot. Queued runs whose message was lost belong here too (later).
Every change is a conditional update, so two workers starting together act on a run once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app.config import Settings, get_settings
from app.db import get_engine
from app.models import Run, Status, utcnow
from app.queue import enqueue
from worker.runner import notify_status

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
    if run.cancel_requested:
        return Status.cancelled, None
    if run.recoveries >= MAX_RECOVERIES:
        return Status.failed, (
            f"WorkerLost: the worker training this run stopped {run.recoveries + 1} times without "
            "finishing (killed or out of memory?); not resuming it again. Retry it to start over."
        )
    checkpoint = settings.run_dir(run.id) / CHECKPOINT_NAME
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
            values: dict = {"status": status, "worker": None}
            if status == Status.queued:
                values["recoveries"] = run.recoveries + 1
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
            getattr(result, {"queued": "requeued"}.get(status, status)).append(run.id)
            session.refresh(run)
            notify_status(settings, run)
    for run_id in result.requeued:
        enqueue(settings.redis_url, run_id)
    if stale:
        log.warning(
            "runs whose worker died: requeued %s, failed %s, cancelled %s",
            result.requeued, result.failed, result.cancelled,
        )  # fmt: skip
    return result


def start_watchdog(
    settings: Settings | None = None, interval: float | None = None
) -> threading.Event:
    """Recover now, then every ``interval`` seconds (default: half the stale limit) until set.

    Checking only at start would miss a worker that dies while the others are already up, or
    that died moments before this one started (its heartbeat still looked fresh).
    """
    settings = settings or get_settings()
    interval = interval or max(1.0, settings.stale_after_seconds / 2)
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                recover_stale_runs(settings)
            except Exception:  # the database may be briefly unreachable; try again next round
                log.exception("recovering runs of dead workers failed")
            if stop.wait(interval):
                return

    threading.Thread(target=loop, name="run-watchdog", daemon=True).start()
    return stop

"""Resume: the same run (same id, same metrics) continues from its last checkpoint.

Retry makes a new run from scratch; resume puts a cancelled or failed run back in the queue,
and the worker that claims it loads ``checkpoint.pt`` from the run's folder (the path it already
takes after a worker restart), replaying nothing it has stored.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col

from app.store.errors import Conflict
from app.store.models import Run, Status, utcnow

RESUMABLE = (Status.cancelled, Status.failed, Status.pruned)  # pruned: stopped by a search
# A run's checkpoints in its folder (app.store.run_files.run_dir; written by ssl_core.trainer).
CHECKPOINTS = {"last": "checkpoint.pt", "best": "best.pt"}


def resume_run(session: Session, run: Run, checkpoint: Path) -> Run:
    """cancelled, failed or pruned → queued, keeping its points and summary; the caller enqueues it.

    ``checkpoint``: the run's last-epoch checkpoint file; without one there is nothing to
    continue from (Retry starts over)."""
    if run.status not in RESUMABLE:
        raise Conflict(
            f"run {run.id} is {run.status}; only a cancelled, failed or pruned run can be resumed"
        )
    if not checkpoint.is_file():
        raise Conflict(
            f"run {run.id} has no checkpoint to resume from in {checkpoint.parent} (it stopped "
            "before its first epoch ended, or trained before run folders were named by uid); "
            "retry it to start over"
        )
    # Conditional: a second resume (or a delete) between our read and this write does nothing.
    changed = session.exec(
        update(Run)
        .where(col(Run.id) == run.id, col(Run.status).in_(RESUMABLE))
        .values(
            status=Status.queued,
            cancel_requested=False,
            error=None,
            stop_reason=None,
            finished_at=None,
            worker=None,
            slot=None,
            enqueued_at=utcnow(),
        )
    ).rowcount
    session.commit()
    session.refresh(run)
    if not changed:
        raise Conflict(
            f"run {run.id} is {run.status}; only a cancelled, failed or pruned run can be resumed"
        )
    return run

"""The training callback that streams a run to the database and to live pages.

Per epoch, one transaction holds the epoch's metric points, progress, heartbeat and summary, then
a Redis notification goes out. Between epochs a small background "pulse" writes the latest step and
heartbeat and reads the cancel flag every few seconds, so ``on_step`` and ``should_stop`` (called
after every optimiser step) cost only an attribute access.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session, col, select

from app.live import notify
from app.store import limits
from app.store.models import MetricPoint, Run, Status, utcnow
from ssl_core.contract.callbacks import Callback, EpochEnd, TrainStart

log = logging.getLogger(__name__)


POINT_COLUMNS = ("run_id", "key", "epoch", "step", "wall_time", "value")

# The epoch's progress update, built once: per epoch only its parameters change. Building the
# statement anew (and SQLAlchemy's cache key for it) every epoch cost more than SQLite's work.
_EPOCH_UPDATE = (
    update(Run)
    .where(col(Run.id) == bindparam("run"), col(Run.status) == Status.running)
    .values(
        {
            Run.epoch: bindparam("new_epoch", type_=Run.__table__.c.epoch.type),
            Run.step: bindparam("new_step", type_=Run.__table__.c.step.type),
            Run.heartbeat_at: bindparam("now", type_=Run.__table__.c.heartbeat_at.type),
            Run.summary: bindparam("new_summary", type_=Run.__table__.c.summary.type),
        }
    )
    .returning(col(Run.cancel_requested))
)


def _insert_ignoring_duplicates(dialect: str) -> Any:
    table = MetricPoint.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


@lru_cache(maxsize=8)
def _insert_points_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The points' INSERT as the driver's own SQL, compiled once per dialect, and the order of
    its parameters where the driver takes them by position (None: by name).

    The 12 points of an epoch go straight to the driver's ``executemany``: their values are plain
    ints, floats and strings that need no SQLAlchemy type processing, and SQLAlchemy's per-row
    parameter handling was the largest part of an epoch's write after SQLite's own work.
    """
    compiled = _insert_ignoring_duplicates(dialect.name).compile(
        dialect=dialect, column_keys=list(POINT_COLUMNS)
    )
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


class RunSink(Callback):
    """``ssl_core.train`` callbacks for run ``run_id`` (``ssl_core.contract.callbacks``)."""

    def __init__(
        self,
        run_id: int,
        engine: Engine,
        redis_url: str,
        heartbeat_seconds: float = 3.0,
        stop_event: threading.Event | None = None,
        after_epoch: Callable[[], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.after_epoch = after_epoch  # e.g. a search's early stops: they may set the cancel flag
        self.engine = engine
        self.redis_url = redis_url
        self.heartbeat_seconds = heartbeat_seconds
        self.stop_event = stop_event  # set when the worker shuts down: stop, keep the checkpoint
        self.cancelled = False
        self.summary: dict[str, Any] = {}
        self._step = 0
        self._epoch = 0
        self._total_steps = 0
        self._written_step = -1
        self._keys: set[str] = set()  # every metric key the run has stored (limits.py's cap)
        self._started = False  # until on_train_start the row's step is the truth (resumes)
        self._closing = threading.Event()
        self._pulse_thread: threading.Thread | None = None

    # -- lifecycle (the runner calls these) -------------------------------------------------
    def start(self) -> None:
        self._pulse_thread = threading.Thread(
            target=self._pulse_loop, name=f"run-{self.run_id}-pulse", daemon=True
        )
        self._pulse_thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._pulse_thread is not None:
            self._pulse_thread.join()
            self._pulse_thread = None

    # -- ssl_core.train callbacks -----------------------------------------------------------
    def on_train_start(self, start: TrainStart) -> None:
        start_epoch = start.start_epoch
        self._step = start.start_step
        self._epoch = start_epoch
        self._total_steps = start.total_steps
        self.summary = dict(start.summary)  # the checkpoint's: the trainer owns the summary
        now = utcnow()
        with Session(self.engine) as session:
            # Points after the checkpoint's epoch would be reported again; the checkpoint wins.
            session.exec(
                delete(MetricPoint).where(
                    col(MetricPoint.run_id) == self.run_id, col(MetricPoint.epoch) > start_epoch
                )
            )
            session.exec(
                update(Run)
                .where(col(Run.id) == self.run_id)
                .values(
                    # Where it trains now (a resume may be on another host): host and worker
                    # name beside the trainer's record of code, software, device and data.
                    environment=self._environment(session, start) or Run.environment,
                    device=(start.environment or {}).get("device") or Run.device,
                    epoch=start_epoch,
                    step=self._step,
                    total_steps=self._total_steps or Run.total_steps,
                    summary=self.summary or None,
                    heartbeat_at=now,
                    clock_at=now,
                    clock_step=self._step,
                )
            )
            session.commit()
            self._keys = set(
                session.exec(
                    select(MetricPoint.key).where(col(MetricPoint.run_id) == self.run_id).distinct()
                )
            )
        self._written_step = self._step
        self._started = True

    def _environment(self, session: Session, start: TrainStart) -> dict[str, Any] | None:
        if not start.environment:
            return None
        worker = session.exec(select(Run.worker).where(col(Run.id) == self.run_id)).first()
        slot = session.exec(select(Run.slot).where(col(Run.id) == self.run_id)).first()
        return {**start.environment, "host": socket.gethostname(), "worker": worker, "slot": slot}

    def on_step(self, step: int, total_steps: int) -> None:
        self._step = step
        self._total_steps = total_steps

    def on_epoch_end(self, end: EpochEnd) -> None:
        epoch, step, metrics, summary = end.epoch, end.step, end.metrics, end.summary
        # Before anything is written: a plugin logging a key per sample fails here, at once.
        new_keys = self._keys.union(metrics)
        limits.check_logged_keys(epoch, len(metrics), len(new_keys))
        self._keys = new_keys
        points, skipped = [], []
        wall_time = time.time()
        for key, value in metrics.items():
            value = float(value)
            if not math.isfinite(value):  # a non-finite loss never gets here (TrainingDiverged)
                skipped.append(key)  # e.g. an accuracy over an empty set: no point to plot
                continue
            points.append(
                {"run_id": self.run_id, "key": key, "epoch": epoch, "step": step,
                 "wall_time": wall_time, "value": value}
            )  # fmt: skip
        if skipped:
            log.info("run %s epoch %s: not stored (not finite): %s", self.run_id, epoch, skipped)
        # Statements built once, on one connection, no ORM objects: this runs every epoch of
        # every run, and object and statement construction were most of its cost.
        with self.engine.begin() as conn:
            row = conn.execute(
                _EPOCH_UPDATE,
                {"run": self.run_id, "new_epoch": epoch, "new_step": step, "now": utcnow(),
                 "new_summary": summary},
            ).first()  # fmt: skip
            if row is None:
                # Cancelled (or taken away) while this epoch ran: the row is the truth.
                self.cancelled = True
                return
            self.cancelled = bool(row[0])
            if points:
                # A resume replays the checkpoint's epoch: points that reached the store before
                # the crash stay as they were (the unique (run, key, epoch) index ignores them).
                sql, order = _insert_points_sql(conn.dialect)
                rows = points if order is None else [tuple(p[k] for k in order) for p in points]
                conn.exec_driver_sql(sql, rows)
        self.summary = dict(summary)
        self._epoch, self._step, self._written_step = epoch, step, step
        if self.after_epoch is not None and not self.cancelled:
            self.after_epoch()
            with self.engine.connect() as conn:
                flag = conn.execute(select(Run.cancel_requested).where(Run.id == self.run_id))
                self.cancelled = bool(flag.scalar())
        # The summary rides along, so a run page's panel is current with its charts.
        data = {"epoch": epoch, "step": step, "wall_time": wall_time, "metrics": metrics,
                "summary": self.summary}  # fmt: skip
        notify.publish(self.redis_url, self.run_id, "epoch", _finite(data))

    def should_stop(self) -> bool:
        return self.cancelled or (self.stop_event is not None and self.stop_event.is_set())

    # -- the pulse ----------------------------------------------------------------------------
    def _pulse_loop(self) -> None:
        while not self._closing.wait(self.heartbeat_seconds):
            try:
                self.pulse()
            except Exception:  # a locked or unreachable DB must not kill training; retry later
                log.exception("run %s: heartbeat failed", self.run_id)

    def pulse(self) -> None:
        """Write the step and heartbeat, read the cancel flag, notify progress."""
        step = self._step
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._started:
            # Never backwards: the epoch's end (another thread) may have written a later step
            # between our read of it and this write.
            values["step"] = case((col(Run.step) < step, step), else_=col(Run.step))
        with Session(self.engine) as session:
            session.exec(update(Run).where(col(Run.id) == self.run_id).values(**values))
            row = session.exec(
                select(Run.cancel_requested, Run.status).where(Run.id == self.run_id)
            ).one_or_none()
            session.commit()
        if row is None or row[0] or row[1] != Status.running:
            self.cancelled = True
        if self._started and step != self._written_step:
            self._written_step = step
            total = self._total_steps
            progress = {
                "epoch": self._epoch,
                "step": step,
                "total_steps": total,
                "progress": min(1.0, step / total) if total else 0.0,
            }
            notify.publish(self.redis_url, self.run_id, "progress", progress)


def _finite(data: dict[str, Any]) -> dict[str, Any]:
    # json.dumps would write NaN, which browsers' JSON.parse rejects.
    metrics = {k: v for k, v in data["metrics"].items() if math.isfinite(float(v))}
    return {**data, "metrics": {k: float(v) for k, v in metrics.items()}}

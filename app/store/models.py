"""Tables: runs, their per-epoch metric points, and sweeps (a grid of runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import uuid4

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Ids are INTEGER columns, 32-bit on PostgreSQL: 2^31 and beyond can name no row there, and the
# driver would fail on them (a 500), so every id the API and pages take is checked against this.
MAX_ID = 2**31 - 1


class Status(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    pruned = "pruned"  # stopped early by its search (``stop_reason`` says why); unfinished


TERMINAL = frozenset({Status.succeeded, Status.failed, Status.cancelled, Status.pruned})


def new_uid() -> str:
    return uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python on every backend (SQLite itself stores no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _time() -> Any:
    return Field(default=None, sa_type=UTCDateTime)


class Sweep(SQLModel, table=True):
    __tablename__ = "sweeps"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str
    base: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    preset: str | None = None
    grid: dict[str, list[Any]] = Field(sa_column=Column(JSON, nullable=False))
    seeds: list[int] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A retried POST /api/sweeps with the same Idempotency-Key finds this sweep (NULLs repeat).
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    # ``grid``: every run made at once; ``random`` / ``tpe``: a search, whose trials are asked
    # for one by one (app/domain/search.py) from ``search`` (space, budget, parallel, seed).
    method: str = Field(default="grid", max_length=20)
    search: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # A search's own state: running, paused, stopped or finished (None for a grid).
    state: str | None = Field(default=None, max_length=20)


class TrialState(StrEnum):
    running = "running"  # its runs are queued or training
    complete = "complete"  # every seed succeeded: it has an objective
    failed = "failed"  # a run failed or was cancelled, or its configuration was refused
    pruned = "pruned"  # stopped early (app/domain/early_stop.py); ``reason`` says why


class Trial(SQLModel, table=True):
    """One configuration of a search, trained once per seed of the sweep.

    ``(sweep_id, number)`` is unique: two processes asking for the next trial at once insert the
    same number and one of them fails, so a search never gets a duplicate trial."""

    __tablename__ = "trials"
    __table_args__ = (Index("ux_trials_sweep_number", "sweep_id", "number", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(sa_column=Column(Integer, ForeignKey("sweeps.id"), nullable=False))
    number: int  # 0, 1, 2, ... in the order asked
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    run_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=TrialState.running)
    objective: float | None = None  # the mean over seeds of the search's validation metric
    reason: str | None = Field(default=None, sa_column=Column(Text))  # why it failed
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = _time()


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    # Ids are never reused: a stale queue message for a deleted run must not train a new one.
    __table_args__ = (
        Index("ix_runs_status_created", "status", "created_at"),
        # A retried submission with the same Idempotency-Key finds the first run (NULLs repeat).
        Index("ux_runs_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # The run's identity, never reused: ids start again at 1 in a new (or restored) database
    # while MATCHLAB_HOME keeps older runs' files, so those files are keyed and stamped by this.
    uid: str = Field(default_factory=new_uid, max_length=32, unique=True, index=True)
    name: str
    status: str = Field(default=Status.queued, index=True)
    # Denormalised from the spec so lists can filter on them with an index.
    algorithm: str = Field(index=True)
    dataset: str = Field(index=True)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sweep_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("sweeps.id"), index=True)
    )
    retry_of: int | None = None
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    recoveries: int = 0  # times it was resumed after its worker died
    worker: str | None = None
    # Where it trains (or last trained): the worker's slot (1-based) and the torch device.
    slot: int | None = None
    device: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()
    # Where the current worker session began, for the ETA: steps done since then / time since then.
    clock_at: datetime | None = _time()
    clock_step: int = 0
    # When a queue message for it was last sent (its creation, a requeue): a queued run with no
    # message in Redis for a while lost it (Redis restarted empty) and is sent again.
    enqueued_at: datetime | None = _time()
    idempotency_key: str | None = Field(default=None, max_length=200)
    # What produced it (ssl_core.environment + host and worker), written when training starts.
    environment: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # Why its search stopped it early, in words (then it ends ``pruned``, not ``cancelled``).
    stop_reason: str | None = Field(default=None, sa_column=Column(Text))


class EndedSession(SQLModel, table=True):
    """A page login ended by /logout: its cookie (and CSRF token) no longer count, even though
    their signatures still check out. Rows older than a session's lifetime are dropped."""

    __tablename__ = "ended_sessions"

    nonce: str = Field(primary_key=True, max_length=64)
    ended_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MetricPoint(SQLModel, table=True):
    """One metric of one run at one epoch.

    The primary key (run, key, epoch) is also the row order: on SQLite the table is stored
    ``WITHOUT ROWID``, clustered by series, so a compare reads each series as one range of the
    table instead of looking up every point's row from an index (3x faster for 50 runs x 1,000
    epochs, BENCHMARKS.md). The migration ``0007_points_keyed_by_series`` rebuilds a table of
    the older layout (an ``id`` rowid plus a unique index), keeping every point.
    """

    __tablename__ = "metric_points"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    key: str = Field(primary_key=True)
    epoch: int = Field(primary_key=True)
    step: int
    wall_time: float  # unix seconds when the epoch ended
    value: float

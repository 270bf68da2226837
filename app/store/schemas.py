"""JSON shapes of the REST API (docs/CONTRACTS.md), built from the table rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from app.store.models import Run, Status, Sweep, utcnow
from ssl_core.contract.summary import SEARCH_OBJECTIVE_LABEL


def as_utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything matchlab stores is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def first_line(text: str | None) -> str | None:
    if not text:
        return None
    return text.strip().splitlines()[0]


class RunOut(BaseModel):
    id: int
    uid: str = Field(
        description="the run's identity, never reused (its files are under runs/<uid>/)"
    )
    name: str
    status: Status
    spec: dict[str, Any]
    sweep_id: int | None
    retry_of: int | None
    epoch: int
    step: int
    total_steps: int
    progress: float = Field(description="0..1")
    eta_seconds: float | None
    summary: dict[str, Any] | None
    error: str | None = Field(description="full text on a run, its first line in lists")
    error_line: str | None
    stop_reason: str | None = Field(None, description="why its search stopped it (pruned)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    recoveries: int = Field(description="times it was resumed after its worker died")
    worker: str | None = Field(None, description="the worker training it (or that last did)")
    slot: int | None = Field(None, description="that worker's slot (1-based) while it trains")
    device: str | None = Field(None, description="the torch device it trains on, e.g. cpu, cuda:0")
    tags: list[str] = Field(default_factory=list)
    values: dict[str, Any] | None = Field(
        None, description="the columns asked for with ?columns= (spec fields, summary metrics)"
    )
    environment: dict[str, Any] | None = Field(
        None,
        description="what produced the run: matchlab_version, git_commit, git_dirty, python, "
        "torch, torchvision, cuda, torch_threads, device_name, precision, host, worker, slot, "
        "dataset_sha256",
    )

    @classmethod
    def of(cls, run: Run, brief: bool = False) -> RunOut:
        error_line = first_line(run.error)
        return cls(
            id=run.id,
            uid=run.uid,
            name=run.name,
            status=run.status,
            spec=run.spec,
            sweep_id=run.sweep_id,
            retry_of=run.retry_of,
            epoch=run.epoch,
            step=run.step,
            total_steps=run.total_steps,
            progress=1.0 if run.status == Status.succeeded else _progress(run),
            eta_seconds=eta_seconds(run),
            summary=run.summary,
            error=error_line if brief else run.error,
            error_line=error_line,
            created_at=as_utc(run.created_at),
            started_at=as_utc(run.started_at),
            finished_at=as_utc(run.finished_at),
            heartbeat_at=as_utc(run.heartbeat_at),
            cancel_requested=run.cancel_requested,
            recoveries=run.recoveries,
            worker=run.worker,
            slot=run.slot,
            device=run.device,
            tags=run.tags or [],
            stop_reason=run.stop_reason,
            environment=None if brief else run.environment,
        )


def _progress(run: Run) -> float:
    return min(1.0, run.step / run.total_steps) if run.total_steps else 0.0


def eta_seconds(run: Run, now: datetime | None = None) -> float | None:
    """Remaining time at the speed of the current worker session (resumes restart the clock)."""
    if run.status != Status.running or not run.clock_at or not run.heartbeat_at:
        return None
    done = run.step - run.clock_step
    elapsed = (as_utc(run.heartbeat_at) - as_utc(run.clock_at)).total_seconds()
    if done <= 0 or elapsed <= 0:
        return None
    since_beat = ((now or utcnow()) - as_utc(run.heartbeat_at)).total_seconds()
    return max(0.0, (run.total_steps - run.step) * elapsed / done - since_beat)


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class SweepIn(BaseModel):
    """A base spec, a grid of dotted spec keys → values, and seeds: their cartesian product."""

    name: str | None = Field(None, max_length=200)
    base: dict[str, Any] = Field(description="a run spec; grid values and seeds override it")
    preset: str | None = None
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, examples=[{"hparams.threshold": [0.9, 0.95]}]
    )
    seeds: list[int] | None = Field(None, description="default: the base spec's seed")
    # A search (``random`` / ``tpe``) instead of a grid: checked in app/domain/search_space.py,
    # typed loosely here so each problem gets its own message naming the field.
    method: str = Field("grid", description="grid, random or tpe")
    space: dict[str, Any] | None = Field(
        None, examples=[{"lr": {"type": "log_uniform", "low": 1e-4, "high": 1.0}}]
    )
    budget: Any = Field(None, description='a search\'s {"configs": N} and/or {"steps": N}')
    parallel: Any = Field(1, description="configurations a search trains at once")
    early_stop: dict[str, Any] | None = None
    sampler_seed: int = Field(0, description="seeds the search's sampler: same seed, same trials")


class TrialOut(BaseModel):
    number: int
    params: dict[str, Any]
    state: str
    objective: float | None
    reason: str | None
    runs: list[dict[str, Any]]  # {"id", "seed", "status"} per seed


class SweepOut(BaseModel):
    id: int
    name: str
    base: dict[str, Any]
    preset: str | None
    grid: dict[str, list[Any]]
    seeds: list[int]
    created_at: datetime
    status_counts: dict[str, int]
    runs: list[RunOut]
    method: str = "grid"
    state: str | None = None  # a search's: running, paused, stopped, finished
    search: dict[str, Any] | None = None
    objective: str | None = None  # what a search maximises, in words
    trials: list[TrialOut] = []

    @classmethod
    def of(cls, sweep: Sweep, runs: list[Run], trials: list[Any] = ()) -> SweepOut:
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return cls(
            id=sweep.id,
            name=sweep.name,
            base=sweep.base,
            preset=sweep.preset,
            grid=sweep.grid,
            seeds=sweep.seeds,
            created_at=as_utc(sweep.created_at),
            status_counts=counts,
            runs=[RunOut.of(run, brief=True) for run in runs],
            method=sweep.method or "grid",
            state=sweep.state,
            search=sweep.search,
            objective=SEARCH_OBJECTIVE_LABEL if sweep.search is not None else None,
            trials=[
                TrialOut(
                    number=t.number,
                    params=t.params,
                    state=t.state,
                    objective=t.objective,
                    reason=t.reason,
                    runs=[{"id": r.id, "seed": r.spec.get("seed"), "status": r.status} for r in rs],
                )
                for t, rs in trials
            ],
        )


class SweepBrief(BaseModel):
    id: int
    name: str
    grid: dict[str, list[Any]]
    seeds: list[int]
    created_at: datetime
    num_runs: int
    status_counts: dict[str, int]

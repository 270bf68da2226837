"""Sweeps: a base spec × grid × seeds, stored and queued as one group of runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select

from app.deps import (
    MAX_ID,
    NOT_QUEUED,
    IdempotencyKey,
    SessionDep,
    SessionRoute,
    SettingsDep,
    SweepId,
    answer_queued,
)
from app.domain.search_control import (
    create_search,
    extend_search,
    pause_search,
    resume_search,
    stop_search,
    trials_of,
)
from app.domain.sweeps import submit_sweep as submit_sweep_runs
from app.queue import enqueue_all
from app.store import crud, edits
from app.store.errors import InvalidInput
from app.store.models import Run, Sweep
from app.store.schemas import SweepBrief, SweepIn, SweepOut, as_utc

router = APIRouter(route_class=SessionRoute, tags=["sweeps"])


@router.post(
    "/sweeps",
    status_code=status.HTTP_201_CREATED,
    response_model=SweepOut,
    responses={
        200: {"model": SweepOut, "description": "the sweep made earlier with this key"},
        202: {**NOT_QUEUED, "model": SweepOut},
    },
)
def submit_sweep(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    body: SweepIn,
    idempotency_key: IdempotencyKey = None,
) -> SweepOut:
    """``method`` grid (the default): every combination of the grid's values and the seeds
    becomes a run. All runs are validated before any is stored; a sweep makes at most 200 runs
    (``app.domain.sweeps.MAX_SWEEP_RUNS``).

    ``method`` random or tpe: a search over ``space`` within ``budget``, ``parallel``
    configurations at a time, each trained on every one of ``seeds``; its first trials are
    made now, the next ones as trials finish.
    """
    if body.method != "grid":
        return _submit_search(session, settings, response, body, idempotency_key)
    if body.space is not None:
        message = "a grid sweep takes `grid`; `space` is for method random or tpe"
        raise InvalidInput([{"field": "space", "message": message}])
    sweep, runs, created = submit_sweep_runs(
        session, body.base, body.grid, body.seeds, body.preset, body.name, idempotency_key
    )
    out = SweepOut.of(sweep, runs)
    session.close()  # no database connection held across the network calls
    if created:
        answer_queued(response, enqueue_all(settings.redis_url, [run.id for run in runs]))
    else:
        response.status_code = status.HTTP_200_OK
    return out


def _submit_search(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    body: SweepIn,
    idempotency_key: str | None,
) -> SweepOut:
    sweep, run_ids, created = create_search(
        session,
        body.method,
        body.base,
        body.space or {},
        body.seeds or [],
        body.budget,
        body.parallel,
        body.early_stop,
        body.sampler_seed,
        body.preset,
        body.name,
        idempotency_key,
    )
    out = _sweep_out(session, sweep.id)
    session.close()
    if created:
        answer_queued(response, enqueue_all(settings.redis_url, run_ids))
    else:
        response.status_code = status.HTTP_200_OK
    return out


def _sweep_out(session: SessionDep, sweep_id: int) -> SweepOut:
    sweep, runs = crud.get_sweep(session, sweep_id)
    return SweepOut.of(sweep, runs, trials_of(session, sweep_id) if sweep.search else ())


@router.get("/sweeps", response_model=list[SweepBrief])
def list_sweeps(
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> list[SweepBrief]:
    sweeps = session.exec(
        select(Sweep).order_by(col(Sweep.id).desc()).limit(limit).offset(offset)
    ).all()
    counts: dict[int, dict[str, int]] = {s.id: {} for s in sweeps}
    rows = session.exec(
        select(Run.sweep_id, Run.status, func.count())
        .where(col(Run.sweep_id).in_(list(counts)))
        .group_by(Run.sweep_id, Run.status)
    )
    for sweep_id, run_status, count in rows:
        counts[sweep_id][run_status] = count
    return [
        SweepBrief(
            id=s.id,
            name=s.name,
            grid=s.grid,
            seeds=s.seeds,
            created_at=as_utc(s.created_at),
            num_runs=sum(counts[s.id].values()),
            status_counts=counts[s.id],
        )
        for s in sweeps
    ]


@router.get("/sweeps/{sweep_id}", response_model=SweepOut)
def get_sweep(session: SessionDep, sweep_id: SweepId) -> SweepOut:
    return _sweep_out(session, sweep_id)


class ExtendIn(BaseModel):
    configs: Any = None
    steps: Any = None


@router.post("/sweeps/{sweep_id}/pause", response_model=SweepOut)
def pause(session: SessionDep, sweep_id: SweepId) -> SweepOut:
    """A search asks for no new trials; those training go on."""
    pause_search(session, sweep_id)
    return _sweep_out(session, sweep_id)


@router.post("/sweeps/{sweep_id}/resume", response_model=SweepOut)
def resume(session: SessionDep, settings: SettingsDep, sweep_id: SweepId) -> SweepOut:
    _, run_ids = resume_search(session, sweep_id)
    enqueue_all(settings.redis_url, run_ids)
    return _sweep_out(session, sweep_id)


@router.post("/sweeps/{sweep_id}/extend", response_model=SweepOut)
def extend(
    session: SessionDep, settings: SettingsDep, sweep_id: SweepId, body: ExtendIn
) -> SweepOut:
    """A larger budget: ``{"configs": N}`` and/or ``{"steps": N}`` replace the old numbers."""
    _, run_ids = extend_search(session, sweep_id, body.configs, body.steps)
    enqueue_all(settings.redis_url, run_ids)
    return _sweep_out(session, sweep_id)


@router.post("/sweeps/{sweep_id}/stop", response_model=SweepOut)
def stop(session: SessionDep, settings: SettingsDep, sweep_id: SweepId) -> SweepOut:
    """A search asks for no new trials and its unfinished runs are cancelled."""
    stop_search(session, sweep_id, settings)
    return _sweep_out(session, sweep_id)


@router.post("/sweeps/{sweep_id}/cancel")
def cancel_sweep(session: SessionDep, settings: SettingsDep, sweep_id: SweepId) -> dict[str, Any]:
    """Cancel every run of the sweep that has not finished: ``{"results": [...]}``."""
    return {"results": edits.cancel_sweep(session, sweep_id, settings)}


@router.delete("/sweeps/{sweep_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_sweep(session: SessionDep, settings: SettingsDep, sweep_id: SweepId) -> Response:
    """The sweep with all its runs, metrics and checkpoints (409 while a run of it trains)."""
    edits.delete_sweep(session, sweep_id, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

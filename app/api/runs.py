"""Runs: submit, list, get, cancel, retry, delete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, Field

from app.deps import (
    MAX_ID,
    NOT_QUEUED,
    IdempotencyKey,
    RunId,
    SessionDep,
    SessionRoute,
    SettingsDep,
    answer_queued,
)
from app.http.params import Id
from app.live import notify
from app.queue import enqueue
from app.store import crud, edits
from app.store.edits import MAX_BULK, MAX_TAGS
from app.store.filters import COLUMNS_EXAMPLE, WHERE_EXAMPLE, column_values, parse_columns
from app.store.models import Run, Status
from app.store.schemas import RunOut, RunPage
from ssl_core.contract.catalog import ALGORITHMS, DATASETS

router = APIRouter(route_class=SessionRoute, tags=["runs"])


def _csv(value: str | None, field: str, valid: Any) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    bad = [v for v in items if v not in valid]
    if bad:
        raise crud.InvalidInput(
            [{"field": field, "message": f"unknown value {bad[0]!r}; valid: {', '.join(valid)}"}]
        )
    return items


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={
        200: {"model": RunOut, "description": "the run made earlier with this key"},
        202: {**NOT_QUEUED, "model": RunOut},
    },
)
def submit_run(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    spec: dict[str, Any] = Body(..., examples=[{"algorithm": "fixmatch", "num_labels": 40}]),
    preset: str | None = Query(None, description="paper or tutorial, applied under the spec"),
    idempotency_key: IdempotencyKey = None,
) -> RunOut:
    """Validate the spec, store the run, then queue it for a worker (202 if Redis is away)."""
    run, created = crud.submit_run(session, spec, preset, idempotency_key)
    out = RunOut.of(run)
    session.close()  # no database connection held across the network call
    if created:
        answer_queued(response, enqueue(settings.redis_url, out.id))
    else:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/runs", response_model=RunPage)
def list_runs(
    session: SessionDep,
    status_: str | None = Query(None, alias="status", description="comma-separated statuses"),
    algorithm: str | None = Query(None, description="comma-separated algorithms"),
    dataset: str | None = Query(None, description="comma-separated datasets"),
    sweep: int | None = Query(None, ge=1, le=MAX_ID, description="only runs of this sweep"),
    q: str | None = Query(None, max_length=200, description="text in the name or error"),
    where: str | None = Query(
        None,
        max_length=2000,
        description="filter: clauses 'field op value' or 'field in (a, b)' joined by and / or, "
        f"grouped with ( ), e.g. '{WHERE_EXAMPLE}' (docs/CONTRACTS.md)",
    ),
    tag: list[str] = Query([], max_length=100, description="runs with this tag (repeatable)"),
    columns: str | None = Query(
        None,
        max_length=2000,
        description="comma-separated spec fields and summary metrics: each item gains them "
        f"under `values` (e.g. {COLUMNS_EXAMPLE})",
    ),
    sort: str | None = Query(
        None,
        max_length=200,
        description="created (default), a summary metric or a spec field; runs without it last",
    ),
    order: Literal["asc", "desc"] = Query("desc"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> RunPage:
    runs, total = crud.list_runs(
        session,
        status=_csv(status_, "status", [s.value for s in Status]),
        algorithm=_csv(algorithm, "algorithm", ALGORITHMS),
        dataset=_csv(dataset, "dataset", list(DATASETS)),
        sweep_id=sweep,
        text=q,
        where=where,
        tags=tag,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    chosen = parse_columns(columns)
    items = [RunOut.of(run, brief=True) for run in runs]
    if chosen:
        for item, run in zip(items, runs, strict=True):
            item.values = column_values(run, chosen)
    return RunPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(session: SessionDep, run_id: RunId) -> RunOut:
    return RunOut.of(crud.get_run(session, run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(session: SessionDep, settings: SettingsDep, run_id: RunId) -> RunOut:
    """Queued: cancelled at once. Running: stops within a few seconds, keeping its metrics."""
    run = crud.cancel_run(session, crud.get_run(session, run_id), settings.stale_after_seconds)
    notify.publish_status(settings.redis_url, run)
    return RunOut.of(run)


@router.post(
    "/runs/{run_id}/retry",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={202: {**NOT_QUEUED, "model": RunOut}},
)
def retry_run(
    session: SessionDep, settings: SettingsDep, response: Response, run_id: RunId
) -> RunOut:
    """A new run with the same spec; the finished one stays as it was."""
    out = RunOut.of(crud.retry_run(session, crud.get_run(session, run_id)))
    session.close()
    answer_queued(response, enqueue(settings.redis_url, out.id))
    return out


@router.delete("/runs/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(session: SessionDep, settings: SettingsDep, run_id: RunId) -> Response:
    """Delete a run that is not running, with its metrics and checkpoints (409 while running)."""
    crud.delete_run(session, crud.get_run(session, run_id), settings.runs_dir)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class RunEdit(BaseModel):
    """What may change after launch (``null`` notes clears them)."""

    model_config = {"extra": "forbid"}
    name: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=10_000)
    tags: list[str] | None = Field(None, max_length=MAX_TAGS)


@router.patch("/runs/{run_id}", response_model=RunOut)
def edit_run(session: SessionDep, run_id: RunId, body: RunEdit) -> RunOut:
    """Rename, re-note or re-tag a run, at any time (the training spec stays as it ran)."""
    changes = body.model_dump(exclude_unset=True)
    return RunOut.of(edits.edit_run(session, crud.get_run(session, run_id), changes))


class BulkIn(BaseModel):
    model_config = {"extra": "forbid"}
    ids: list[Id] = Field(min_length=1, max_length=MAX_BULK)
    action: Literal["cancel", "delete", "tag", "untag"]
    tag: str | None = Field(None, max_length=40, description="for tag and untag")


@router.post("/runs/bulk")
def bulk_runs(session: SessionDep, settings: SettingsDep, body: BulkIn) -> dict[str, Any]:
    """One action on many runs: ``{"results": [{"id", "ok", "detail"}]}``; a run that cannot
    (deleting a running one) is reported and the others go ahead."""
    results = edits.bulk(session, body.ids, body.action, body.tag, settings)
    for result in results:
        if result["ok"] and body.action == "cancel":
            notify.publish_status(settings.redis_url, session.get(Run, result["id"]))
    return {"results": results}

"""A run's metric series (optionally downsampled) and its CSV export."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse

from app.deps import RunId, SessionDep, SessionRoute, SettingsDep
from app.domain.exports import write_csv
from app.domain.resume import CHECKPOINTS
from app.domain.series import downsample
from app.http.params import split_keys
from app.store import crud, limits, points
from app.store.models import Run
from app.store.run_files import run_dir

router = APIRouter(route_class=SessionRoute, tags=["metrics"])


@router.get("/runs/{run_id}/metrics")
def run_metrics(
    session: SessionDep,
    run_id: RunId,
    keys: str | None = Query(None, description="comma-separated metric keys; default all"),
    max_points: int | None = Query(
        None, ge=2, le=100_000, description="downsample each series to at most this many points"
    ),
) -> dict[str, Any]:
    """``{"run_id", "keys", "series": {key: {"epoch", "step", "wall_time", "value"}}}``.

    Above ``max_points`` a series keeps its first and last point and each bucket's min and max.
    """
    run = crud.get_run(session, run_id)
    wanted = split_keys(keys)
    limits.check_keys(wanted, limits.MAX_KEYS_PER_RUN)
    series = points.load_points(session, [run.id], wanted)[run.id]
    return {
        "run_id": run.id,
        "keys": points.metric_keys(session, [run.id]),
        "series": {key: downsample(s, max_points) for key, s in series.items()},
    }


@router.get("/runs/{run_id}/metrics.csv", response_class=Response)
def run_metrics_csv(session: SessionDep, run_id: RunId) -> Response:
    """Every point, one row per epoch: ``epoch,step,wall_time,<key>,<key>,...``."""
    run = crud.get_run(session, run_id)
    limits.check_points(sum(points.point_counts(session, [run.id]).values()))
    epochs = points.load_epochs(session, run.id)
    keys = sorted({key for entry in epochs for key in entry["metrics"]})
    rows = (
        [e["epoch"], e["step"], e["wall_time"], *(e["metrics"].get(k) for k in keys)]
        for e in epochs
    )
    filename = f"matchlab-run-{run.id}-metrics.csv"
    return Response(
        write_csv([["epoch", "step", "wall_time", *keys], *rows]),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _run_file(settings: SettingsDep, run: Run, name: str, what: str) -> FileResponse:
    path = run_dir(settings.runs_dir, run) / name
    if not path.is_file():
        raise crud.NotFound(f"run {run.id} has no {what} yet")
    return FileResponse(path, filename=f"run{run.id}-{name}")


@router.get(
    "/runs/{run_id}/checkpoint",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def run_checkpoint(
    session: SessionDep,
    settings: SettingsDep,
    run_id: RunId,
    which: Literal["last", "best"] = Query(
        "last",
        description="last: the full training state of the last epoch (resumable); best: the "
        "EMA weights at the best validation epoch",
    ),
) -> FileResponse:
    """A ``.pt`` file; load it with ``torch.load(path, weights_only=True)``."""
    run = crud.get_run(session, run_id)
    return _run_file(settings, run, CHECKPOINTS[which], f"{which} checkpoint")


@router.get(
    "/runs/{run_id}/metrics.jsonl",
    response_class=FileResponse,
    responses={200: {"content": {"application/jsonl": {}}}},
)
def run_metrics_jsonl(session: SessionDep, settings: SettingsDep, run_id: RunId) -> FileResponse:
    """The trainer's own log: one JSON object per finished epoch."""
    run = crud.get_run(session, run_id)
    return _run_file(settings, run, "metrics.jsonl", "metrics.jsonl")

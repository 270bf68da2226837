"""HTML pages: the runs table, a run's live page, run actions, and static files."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app.deps import RunId, SessionDep, SessionRoute, SettingsDep
from app.domain.series import downsample
from app.http.params import parse_id, parse_int
from app.pages import assets
from app.pages.render import not_found, render
from app.pages.run_charts import run_charts
from app.store import crud, limits, points
from app.store.filters import WHERE_EXAMPLE, column_values, parse_columns, sort_key
from app.store.models import Run, Status, Sweep
from app.store.run_files import run_dir
from app.store.schemas import RunOut
from ssl_core.contract import summary
from ssl_core.contract.catalog import ALGORITHMS, CATALOG, DATASETS
from ssl_core.contract.spec import flatten_spec
from ssl_core.contract.validation import validation_size

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

PAGE_SIZE = 50
MAX_LISTED = 2000  # matching runs the table reads, in the database's order for summary sorts
RUN_PAGE_POINTS = 500  # per series on a run page; live epochs are appended after these
ACTIVE = (Status.queued, Status.running)
STATIC_READS = CapacityLimiter(4)


def _summary(run: RunOut, key: str) -> float:
    value = (run.summary or {}).get(key)
    return value if isinstance(value, (int, float)) else -math.inf


SORTS: dict[str, Any] = {
    "created": lambda r: r.id,
    "name": lambda r: r.name.lower(),
    "algorithm": lambda r: r.spec.get("algorithm", ""),
    "dataset": lambda r: r.spec.get("dataset", ""),
    "labels": lambda r: r.spec.get("num_labels", 0),
    "status": lambda r: r.status,
    "progress": lambda r: r.progress,
}
# The summary fields the table lists, each under its sort name in the URL (two keep the short
# names bookmarked URLs use).
_SORT_NAMES = {summary.BEST_VAL_TOP1: "best_val", summary.TEST_TOP1_AT_BEST_VAL: "test"}
SUMMARY_SORTS = [(_SORT_NAMES.get(f.key, f.key), f) for f in summary.FIELDS if f.listed]
SORTS.update({name: (lambda r, key=f.key: _summary(r, key)) for name, f in SUMMARY_SORTS})
# Sorts the database does over every matching run (so the runs read are the top ones).
DB_SORTS = {name: f.key for name, f in SUMMARY_SORTS}


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def static_file(name: str, request: Request) -> Response:
    # Never in the request threads a stalled database may hold: the first read of a file (then
    # kept in memory) runs in a thread of the assets' own.
    await to_thread.run_sync(assets.asset, name, limiter=STATIC_READS)
    return assets.serve(name, request)


def _column_sort(name: str) -> Any:
    return lambda run: sort_key((run.values or {}).get(name))


def _one(value: str | None, valid: Any) -> str:
    return value if value in valid else ""


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    session: SessionDep,
    status: str | None = None,
    algorithm: str | None = None,
    dataset: str | None = None,
    sweep: str | None = None,
    q: str | None = None,
    where: str | None = None,
    tag: str | None = None,
    columns: str | None = None,
    sort: str = "created",
    order: str = "desc",
    page: str = "1",
) -> HTMLResponse:
    """All runs, filtered and sorted as the URL says."""
    filters = {
        "status": _one(status, [s.value for s in Status]),
        "algorithm": _one(algorithm, ALGORITHMS),
        "dataset": _one(dataset, DATASETS),
        "sweep": str(parse_id(sweep, "sweep")) if sweep and sweep.strip() else "",
        "q": (q or "").strip()[:200],
        "where": (where or "").strip()[:2000],
        "tag": (tag or "").strip()[:40],
        "columns": (columns or "").strip()[:2000],
    }
    query = {
        "status": [filters["status"]] if filters["status"] else [],
        "algorithm": [filters["algorithm"]] if filters["algorithm"] else [],
        "dataset": [filters["dataset"]] if filters["dataset"] else [],
        "sweep_id": int(filters["sweep"]) if filters["sweep"] else None,
        "text": filters["q"] or None,
        "tags": [filters["tag"]] if filters["tag"] else [],
        "limit": MAX_LISTED,
    }
    where_error, chosen = None, []
    descending, field = order != "asc", DB_SORTS.get(sort)
    try:
        chosen = parse_columns(filters["columns"])
        if field is None and sort in chosen and sort not in SORTS:
            field = sort
        rows, total = crud.list_runs(
            session, **query, where=filters["where"] or None, sort=field, descending=descending
        )
    except crud.InvalidInput as exc:
        where_error = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        rows, total = [], 0
    runs = [RunOut.of(run, brief=True) for run in rows]
    for out, row in zip(runs, rows, strict=True):
        out.values = column_values(row, chosen)
    sorts = {**SORTS, **{name: _column_sort(name) for name in chosen}}
    sort = sort if sort in sorts else "created"
    if field is None:
        runs.sort(key=sorts[sort], reverse=descending)
    pages = max(1, math.ceil(len(runs) / PAGE_SIZE))
    current = min(max(parse_int(page, "page", 1) if page.strip() else 1, 1), pages)
    shown = runs[(current - 1) * PAGE_SIZE : current * PAGE_SIZE]
    sweeps = session.exec(select(Sweep).order_by(col(Sweep.id).desc()).limit(100)).all()
    active = session.exec(select(Run.id).where(col(Run.status).in_(ACTIVE)).limit(1)).first()
    view = {**filters, "sort": sort, "order": "desc" if descending else "asc", "page": current}

    def link(**change: Any) -> str:
        merged = {**view, **change}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

    return render(
        request,
        "runs.html",
        422 if where_error else 200,
        where_error=where_error,
        columns=chosen,
        runs=shown,
        total=total,
        truncated=total > MAX_LISTED,
        db_sorted=field is not None,
        max_listed=MAX_LISTED,
        link=link,
        filters=filters,
        sort=sort,
        order="desc" if descending else "asc",
        page=current,
        pages=pages,
        sweeps=sweeps,
        any_active=active is not None,
        statuses=[s.value for s in Status],
        summary_sorts=SUMMARY_SORTS,
        where_example=WHERE_EXAMPLE,
        algorithms=ALGORITHMS,
        datasets=list(DATASETS),
        next_url=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )


def _find_run(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def _page_points(session: Session, run_id: int) -> dict[str, dict[str, list[Any]]]:
    """The run's series, as many whole keys (in order) as ``limits.MAX_POINTS`` allows: a run
    page always opens, even for a run that logged more than one answer may carry."""
    counts = sorted((key, n) for (_, key), n in points.point_counts(session, [run_id]).items())
    keys, total = [], 0
    for key, n in counts:
        if total + n > limits.MAX_POINTS:
            break
        keys.append(key)
        total += n
    if not keys:
        return {}
    return points.load_points(session, [run_id], keys, capped=False)[run_id]


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, session: SessionDep, settings: SettingsDep, run_id: RunId
) -> HTMLResponse:
    """One run: status, progress, summary, spec, error and its curves, updated live."""
    run = _find_run(session, run_id)
    if run is None:
        return not_found(request, f"Run {run_id}")
    out = RunOut.of(run)
    folder = run_dir(settings.runs_dir, run)
    points = _page_points(session, run.id)
    series = {key: downsample(s, RUN_PAGE_POINTS) for key, s in points.items()}
    info = CATALOG.datasets.get(run.spec.get("dataset", ""))
    epochs = int(run.spec.get("epochs", 0))
    charts = run_charts(run.algorithm, info.num_classes if info else 10, series, epochs, run.spec)
    last_epoch = max((s["epoch"][-1] for s in points.values() if s["epoch"]), default=0)
    spec = flatten_spec(run.spec)
    return render(
        request,
        "run.html",
        run=out,
        spec=spec,
        charts=charts,
        live={
            "run_id": run.id,
            "status": run.status,
            "last_epoch": last_epoch,
            "total_steps": run.total_steps,
            "charts": [{"id": c["id"], "keys": c["keys"], "scales": c["scales"]} for c in charts],
        },
        next_url=f"/runs/{run.id}",
        clone_url=clone_url(run.spec),
        files={name: (folder / file).is_file() for name, file in FILES.items()},
        validation=validation_size(run.spec),
    )


# Files a run's page offers for download (under MATCHLAB_HOME/runs/<uid>/, via /api).
FILES = {"last": "checkpoint.pt", "best": "best.pt", "jsonl": "metrics.jsonl"}


def clone_url(spec: dict[str, Any]) -> str:
    """The run form, filled in with ``spec`` (the user edits, then launches a new run)."""
    pairs: list[tuple[str, str]] = []
    for key, value in flatten_spec(spec).items():
        if key in ("name", "seed") or value is None:
            continue  # a new name; the same seed unless changed (kept below)
        if isinstance(value, list):
            pairs += [(key, str(v)) for v in value] + [(f"{key}.shown", "1")]
        else:
            pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    pairs += [("seed", str(spec.get("seed", 0))), ("name", f"{spec.get('name', 'run')} (edited)")]
    pairs += [("shown_algorithm", spec["algorithm"]), ("shown_dataset", spec.get("dataset", ""))]
    return "/runs/new?" + urlencode(pairs)

"""A sweep's page: the final metric against each swept value, then the members' curves; and
the actions on a whole sweep (cancel, delete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import QueryParams

from app.deps import FormDep, SessionDep, SessionRoute, SettingsDep, SweepId
from app.domain import compare as store_compare
from app.domain.compare import DEFAULT_METRIC
from app.domain.search_control import trials_of
from app.live import notify
from app.pages.compare import MAX_POINTS
from app.pages.figures import compare_figures, compare_lines
from app.pages.render import action_failed, not_found, redirect, render
from app.pages.sweep_figures import SUMMARY_METRICS, sweep_figures
from app.store import crud, edits
from app.store.models import Run
from app.store.schemas import SweepOut
from ssl_core.contract import metrics

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


@router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(
    request: Request, session: SessionDep, sweep_id: SweepId, metric: str = DEFAULT_METRIC
) -> HTMLResponse:
    """The final metric against each swept value, then the members' curves."""
    try:
        found, members = crud.get_sweep(session, sweep_id)
        sweep = SweepOut.of(found, members, trials_of(session, sweep_id) if found.search else ())
    except crud.NotFound:
        return not_found(request, f"Sweep {sweep_id}")
    metric = metric if metric in SUMMARY_METRICS else DEFAULT_METRIC
    runs = [run.model_dump(mode="json") for run in sweep.runs]
    figures, cells, fields = sweep_figures(sweep.grid, runs, metric)
    curves: list[dict[str, Any]] = []
    if runs:
        data = store_compare.compare(
            session, runs=None, sweep=sweep_id, keys=[metrics.VAL_TOP1, metrics.TEST_TOP1],
            group_by=None, max_points=MAX_POINTS, x="epoch",
        )  # fmt: skip
        curves = compare_figures(compare_lines(data, "epoch", 0.0), data["keys"], "epoch")
    active = any(run["status"] in ("queued", "running") for run in runs)
    return render(
        request,
        "sweep.html",
        sweep=sweep,
        runs=sweep.runs,
        metric=metric,
        metrics=SUMMARY_METRICS,
        figures=figures,
        curves=curves,
        cells=cells,
        fields=fields,
        active=active,
        compare_url="/compare?" + str(QueryParams({"runs": ",".join(str(r["id"]) for r in runs)})),
    )


@router.post("/sweeps/{sweep_id}/cancel", response_model=None)
def cancel_sweep(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, sweep_id: SweepId
) -> Response:
    try:
        results = edits.cancel_sweep(session, sweep_id, settings)
    except crud.NotFound:
        return not_found(request, f"Sweep {sweep_id}")
    for result in results:
        notify.publish_status(settings.redis_url, session.get(Run, result["id"]))
    return redirect(f"/sweeps/{sweep_id}")


@router.post("/sweeps/{sweep_id}/delete", response_model=None)
def delete_sweep(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, sweep_id: SweepId
) -> Response:
    try:
        edits.delete_sweep(session, sweep_id, settings)
    except crud.NotFound:
        return not_found(request, f"Sweep {sweep_id}")
    except crud.Conflict as exc:
        return action_failed(request, str(exc))
    return redirect("/")

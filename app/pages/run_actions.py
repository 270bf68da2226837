"""What the runs table and a run's page can do to runs: compare or act on the ticked runs, edit
a run's name, notes and tags, cancel, retry and delete it. Each answers with a redirect, or a
page saying why not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import FormDep, RunId, SessionDep, SessionRoute, SettingsDep
from app.http.params import parse_id
from app.live import notify
from app.pages.render import action_failed, next_path, not_found, redirect, render, with_query
from app.queue import enqueue
from app.store import crud, edits
from app.store.models import Run

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


@router.post("/runs/bulk", response_model=None)
def bulk(request: Request, form: FormDep, session: SessionDep, settings: SettingsDep) -> Response:
    """The runs table's ticked runs: compare them, or cancel, delete, tag or untag them all."""
    ids = [parse_id(str(v), "runs") for v in form.getlist("runs")]
    action = str(form.get("action", ""))
    back = next_path(form, "/")
    if not ids:
        return action_failed(request, "Tick at least one run first.")
    if action == "compare":
        return redirect(f"/compare?runs={','.join(map(str, ids))}")
    try:
        results = edits.bulk(session, ids, action, str(form.get("tag") or "") or None, settings)
    except crud.InvalidInput as exc:
        return action_failed(request, "; ".join(e["message"] for e in exc.errors))
    for result in results:
        if result["ok"] and action == "cancel":
            notify.publish_status(settings.redis_url, session.get(Run, result["id"]))
    failed = [f"run {r['id']}: {r['detail']}" for r in results if not r["ok"]]
    if failed:
        return action_failed(request, "Not done for " + "; ".join(failed) + ".")
    return redirect(back)


@router.post("/runs/{run_id}/edit", response_model=None)
def edit(request: Request, form: FormDep, session: SessionDep, run_id: RunId) -> Response:
    """The run page's Edit form: name, notes and tags (comma-separated), at any time."""
    run = session.get(Run, run_id)
    if run is None:
        return not_found(request, f"Run {run_id}")
    tags = [t.strip() for t in str(form.get("tags") or "").split(",") if t.strip()]
    changes = {"name": str(form.get("name") or ""), "notes": str(form.get("notes") or ""),
               "tags": tags}  # fmt: skip
    try:
        edits.edit_run(session, run, changes)
    except crud.InvalidInput as exc:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        return render(request, "message.html", 422, title="Not saved", message=message)
    return redirect(f"/runs/{run_id}")


@router.post("/runs/{run_id}/cancel", response_model=None)
def cancel(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, run_id: RunId
) -> Response:
    run = session.get(Run, run_id)
    if run is None:
        return not_found(request, f"Run {run_id}")
    try:
        run = crud.cancel_run(session, run, settings.stale_after_seconds)
    except crud.Conflict as exc:
        return action_failed(request, str(exc))
    notify.publish_status(settings.redis_url, run)
    return redirect(next_path(form, f"/runs/{run.id}"))


@router.post("/runs/{run_id}/retry", response_model=None)
def retry(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, run_id: RunId
) -> Response:
    run = session.get(Run, run_id)
    if run is None:
        return not_found(request, f"Run {run_id}")
    try:
        copy = crud.retry_run(session, run)
    except crud.Conflict as exc:
        return action_failed(request, str(exc))
    session.close()  # no database connection held across the network call
    queued = enqueue(settings.redis_url, copy.id)
    target = next_path(form, "/")
    # From the old run's own page, go to the new run; from the table, stay on the table.
    target = f"/runs/{copy.id}" if target == f"/runs/{run.id}" else target
    return redirect(target if queued else with_query(target, queue="unreachable"))


@router.post("/runs/{run_id}/delete", response_model=None)
def delete(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, run_id: RunId
) -> Response:
    run = session.get(Run, run_id)
    if run is None:
        return not_found(request, f"Run {run_id}")
    try:
        crud.delete_run(session, run, settings.runs_dir)
    except crud.Conflict as exc:
        return action_failed(request, str(exc))
    target = next_path(form, "/")
    return redirect("/" if target == f"/runs/{run_id}" else target)

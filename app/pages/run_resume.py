"""The run page's Resume button: the same run continues from its last checkpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import FormDep, RunId, SessionDep, SessionRoute, SettingsDep
from app.domain.resume import CHECKPOINTS, resume_run
from app.live import notify
from app.pages.render import redirect, render, with_query
from app.queue import enqueue
from app.store import crud
from app.store.run_files import own_dir

router = APIRouter(route_class=SessionRoute)


@router.post("/runs/{run_id}/resume", response_model=None)
def resume(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep, run_id: RunId
) -> Response:
    try:
        run = crud.get_run(session, run_id)
        run = resume_run(session, run, own_dir(settings.runs_dir, run) / CHECKPOINTS["last"])
    except crud.NotFound:
        return render(request, "message.html", 404, title="Not found",
                      message=f"Run {run_id} not found.")  # fmt: skip
    except crud.Conflict as exc:
        return render(request, "message.html", 409, title="Not possible now", message=str(exc))
    session.close()  # no database connection held across the network calls
    notify.publish_status(settings.redis_url, run)
    target = f"/runs/{run_id}"
    return redirect(target if enqueue(settings.redis_url, run_id) else
                    with_query(target, queue="unreachable"))  # fmt: skip

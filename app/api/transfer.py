"""Runs that continue or arrive: resume a stopped run, import a ``matchlab train --out`` folder."""

from __future__ import annotations

import os
import shutil
from typing import BinaryIO

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from app.deps import NOT_QUEUED, RunId, SessionDep, SessionRoute, SettingsDep, answer_queued
from app.domain.imported import IDENTITY_FILE, METRICS_FILE, SPEC_FILE, as_moment, import_run
from app.domain.resume import CHECKPOINTS, resume_run
from app.live import notify
from app.queue import enqueue
from app.store import crud
from app.store.models import utcnow
from app.store.run_files import own_dir, write_identity
from app.store.schemas import RunOut

router = APIRouter(route_class=SessionRoute, tags=["runs"])


@router.post(
    "/runs/{run_id}/resume",
    response_model=RunOut,
    responses={202: {**NOT_QUEUED, "model": RunOut}},
)
def resume(session: SessionDep, settings: SettingsDep, response: Response, run_id: RunId) -> RunOut:
    """The same run, queued again: a worker continues it from its last checkpoint, keeping its
    metrics (409 unless it is cancelled or failed and has a checkpoint; Retry starts over)."""
    run = crud.get_run(session, run_id)
    # A worker resumes from the run's own folder, where it trains.
    run = resume_run(session, run, own_dir(settings.runs_dir, run) / CHECKPOINTS["last"])
    out = RunOut.of(run)
    session.close()
    notify.publish_status(settings.redis_url, run)
    answer_queued(response, enqueue(settings.redis_url, out.id))
    return out


def _text(upload: UploadFile, name: str) -> str:
    try:
        return upload.file.read().decode()
    except UnicodeDecodeError:
        raise crud.InvalidInput([{"field": name, "message": "is not UTF-8 text"}]) from None


def _save(source: BinaryIO, target: os.PathLike) -> None:
    # Whole or not at all: a half-written checkpoint would fail the resume that loads it.
    tmp = f"{os.fspath(target)}.tmp"
    with open(tmp, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    os.replace(tmp, target)


@router.post(
    "/runs/import",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={200: {"model": RunOut, "description": "the run this folder made before"}},
)
def import_folder(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    spec: UploadFile = File(description="the folder's spec.json"),
    metrics: UploadFile = File(description="the folder's metrics.jsonl"),
    checkpoint: UploadFile | None = File(None, description="checkpoint.pt (makes it resumable)"),
    best: UploadFile | None = File(None, description="best.pt (the best-val EMA weights)"),
    identity: UploadFile | None = File(None, description="run.json: the folder's uid"),
    started_at: float | None = Form(None, description="unix seconds the training began"),
    finished_at: float | None = Form(None, description="unix seconds of its last epoch"),
    origin: str | None = Form(None, max_length=500, description="where the folder was"),
) -> RunOut:
    """A ``matchlab train --out`` folder as a finished run (``matchlab sync DIR``): 201 new, 200
    when this folder was synced before (brought up to date if it trained on since)."""
    end = as_moment(finished_at, "finished_at") or utcnow()
    begin = as_moment(started_at, "started_at") or end
    run, created, changed = import_run(
        session,
        _text(spec, SPEC_FILE),
        _text(metrics, METRICS_FILE),
        min(begin, end),
        end,
        origin,
        _text(identity, IDENTITY_FILE) if identity is not None else None,
    )
    folder = own_dir(settings.runs_dir, run)
    if changed:
        write_identity(folder, run)  # whose folder it is, as a worker's would say
    for upload, name in ((spec, SPEC_FILE), (metrics, METRICS_FILE),
                         (checkpoint, CHECKPOINTS["last"]), (best, CHECKPOINTS["best"])):  # fmt: skip
        if upload is not None and changed:
            upload.file.seek(0)
            _save(upload.file, folder / name)
    if not created:
        response.status_code = status.HTTP_200_OK
    return RunOut.of(run)

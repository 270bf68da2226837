"""Import: a ``matchlab train --out`` folder stored as a finished run.

The folder's identity becomes the run's ``uid``: the one ``matchlab train`` wrote to its
``run.json`` (its checkpoints carry it too, so a worker resumes them as this run's), else, for
a folder from before those files, one derived from its spec.json and the first line of its
metrics.jsonl (a training's first epoch, with its own speed figures, differs between any two
trainings, yet stays when the folder trains on). So syncing a folder twice finds the run made
the first time, and syncing it after more epochs adds those epochs to that run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.store.crud import default_name, validate_spec
from app.store.errors import Conflict, InvalidInput
from app.store.models import MAX_ID, MetricPoint, Run, Status
from app.store.text import reject_nul
from ssl_core.contract.summary import update_summary

SPEC_FILE, METRICS_FILE, IDENTITY_FILE = "spec.json", "metrics.jsonl", "run.json"
UID = re.compile(r"[0-9a-f]{32}")
MAX_KEY_LENGTH = 200


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([{"field": field, "message": message}])


def folder_uid(spec_text: str, metrics_text: str, identity_text: str | None) -> str:
    """The uid from run.json when it holds one, else the hash of spec and first epoch."""
    try:
        uid = json.loads(identity_text).get("uid") if identity_text else None
    except (ValueError, AttributeError):
        raise _invalid(IDENTITY_FILE, 'must be a JSON object {"uid": "<32 hex digits>"}') from None
    if uid is not None:
        if not (isinstance(uid, str) and UID.fullmatch(uid)):
            raise _invalid(IDENTITY_FILE, f"uid {uid!r} is not 32 hex digits")
        return uid
    first = next((line for line in metrics_text.splitlines() if line.strip()), "")
    return hashlib.sha256(f"{spec_text.strip()}\n{first.strip()}".encode()).hexdigest()[:32]


def parse_metrics(text: str, max_epochs: int) -> list[dict[str, Any]]:
    """metrics.jsonl's lines as ``[{"epoch", "step", "metrics"}]``: epochs 1, 2, … each once,
    steps never going back, every value a finite number."""
    epochs: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{METRICS_FILE} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _invalid(METRICS_FILE, f"line {number} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise _invalid(METRICS_FILE, f"line {number} must be a JSON object")
        epoch, step = row.pop("epoch", None), row.pop("step", None)
        if epoch != len(epochs) + 1 or isinstance(epoch, bool):
            raise _invalid(METRICS_FILE, f"{where}: epoch {epoch!r}, expected {len(epochs) + 1}")
        last_step = epochs[-1]["step"] if epochs else 0
        whole = isinstance(step, int) and not isinstance(step, bool)
        if not whole or not last_step <= step <= MAX_ID:
            raise _invalid(
                METRICS_FILE, f"{where}: step {step!r} must be a whole number ≥ {last_step}"
            )
        for key, value in row.items():
            if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
                raise _invalid(METRICS_FILE, f"{where}: metric name {key[:40]!r} is not valid")
            if not _finite(value):
                raise _invalid(METRICS_FILE, f"{where}: {key} = {value!r} is not a finite number")
        epochs.append({"epoch": epoch, "step": step, "metrics": row})
    if not epochs:
        raise _invalid(METRICS_FILE, "holds no epoch: train at least one before syncing")
    if len(epochs) > max_epochs:
        raise _invalid(METRICS_FILE, f"{len(epochs)} epochs, but the spec has {max_epochs}")
    return epochs


def import_run(
    session: Session,
    spec_text: str,
    metrics_text: str,
    started_at: datetime,
    finished_at: datetime,
    origin: str | None = None,
    identity_text: str | None = None,
) -> tuple[Run, bool, bool]:
    """``(run, created, changed)``: the folder's run, new or brought up to date with its epochs
    (``changed`` False: the server already had every epoch; leave its files alone).

    Finished folders are ``succeeded``; one that stopped early is ``cancelled`` (resumable on
    the server when its checkpoint came along). Points carry no clock of their own in the
    folder: their wall time is spread by step between ``started_at`` and ``finished_at``."""
    try:
        values = json.loads(spec_text)
    except json.JSONDecodeError as exc:
        raise _invalid(SPEC_FILE, f"is not JSON ({exc.msg})") from None
    reject_nul(origin, "origin")
    spec = validate_spec(values)
    epochs = parse_metrics(metrics_text, spec.epochs)
    uid = folder_uid(spec_text, metrics_text, identity_text)
    run = session.exec(select(Run).where(Run.uid == uid)).first()
    if run is not None and run.status in (Status.queued, Status.running):
        raise Conflict(f"run {run.id} (this folder, synced before) is {run.status} on the server")
    if run is not None and run.epoch >= len(epochs):
        return run, False, False  # nothing new: syncing twice changes nothing
    created = run is None
    if run is None:
        run = Run(uid=uid, name=default_name(spec), algorithm=spec.algorithm,
                  dataset=spec.dataset, spec=spec.to_json_dict())  # fmt: skip
    summary: dict[str, Any] = {}
    for entry in epochs:
        summary = update_summary(summary, entry["epoch"], entry["metrics"])
    last = epochs[-1]
    run.status = Status.succeeded if len(epochs) == spec.epochs else Status.cancelled
    run.epoch, run.step, run.total_steps = last["epoch"], last["step"], spec.total_steps
    run.summary = summary
    run.started_at, run.finished_at = started_at, finished_at
    run.environment = {**(run.environment or {}), "imported_from": origin or "matchlab sync"}
    session.add(run)
    session.flush()
    session.exec(delete(MetricPoint).where(col(MetricPoint.run_id) == run.id))
    start, span = started_at.timestamp(), max(0.0, (finished_at - started_at).total_seconds())
    for entry in epochs:
        wall_time = start + span * entry["step"] / max(1, last["step"])
        session.add_all(
            MetricPoint(run_id=run.id, key=key, epoch=entry["epoch"], step=entry["step"],
                        wall_time=wall_time, value=float(value))
            for key, value in entry["metrics"].items()
        )  # fmt: skip
    session.commit()
    session.refresh(run)
    return run, created, True


def _finite(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def as_moment(value: float | None, field: str) -> datetime | None:
    """Unix seconds from a form as an aware datetime; 422 naming the field when not one."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(field, f"{value!r} is not a time in unix seconds") from None

"""Changes after launch: a run's name, notes and tags; actions on many runs; a whole sweep.

Everything here changes only what a user may change at any time (never a spec's training
fields), is checked before anything is written, and reports per run what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from app.store import crud
from app.store.errors import Conflict, InvalidInput, NotFound
from app.store.models import TERMINAL, Run, Status, Sweep, Trial
from app.store.text import reject_nul

MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_BULK = 500
BULK_ACTIONS = ("cancel", "delete", "tag", "untag")


def clean_tag(tag: Any, field: str = "tag") -> str:
    if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG_CHARS:
        raise InvalidInput(
            [{"field": field, "message": f"a tag is 1 to {MAX_TAG_CHARS} characters of text"}]
        )
    reject_nul(tag, field)
    return tag.strip()


def clean_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list):
        raise InvalidInput([{"field": "tags", "message": "a list of strings"}])
    out = list(dict.fromkeys(clean_tag(t, f"tags.{i}") for i, t in enumerate(tags)))
    if len(out) > MAX_TAGS:
        raise InvalidInput([{"field": "tags", "message": f"at most {MAX_TAGS} tags"}])
    return out


def edit_run(session: Session, run: Run, changes: dict[str, Any]) -> Run:
    """``name``, ``notes`` (both also in the stored spec) and ``tags``; other keys are refused."""
    unknown = sorted(set(changes) - {"name", "notes", "tags"})
    if unknown:
        message = "only name, notes and tags can change after launch (the spec is the record)"
        raise InvalidInput([{"field": key, "message": message} for key in unknown])
    spec = dict(run.spec)
    if "name" in changes:
        name = changes["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput([{"field": "name", "message": "1 to 200 characters of text"}])
        reject_nul(name, "name")
        run.name = spec["name"] = name.strip()
    if "notes" in changes:
        notes = changes["notes"]
        if notes is not None and (not isinstance(notes, str) or len(notes) > 10_000):
            raise InvalidInput([{"field": "notes", "message": "text up to 10,000 characters"}])
        reject_nul(notes, "notes")
        spec["notes"] = notes or None
    if "tags" in changes:
        run.tags = clean_tags(changes["tags"])
    run.spec = spec
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def bulk(
    session: Session, ids: Sequence[int], action: str, tag: str | None, settings: Any
) -> list[dict[str, Any]]:
    """``action`` on each run: ``[{"id", "ok", "detail"}]`` — one run that cannot (a delete of a
    running run) does not stop the others."""
    if action not in BULK_ACTIONS:
        raise InvalidInput([{"field": "action", "message": f"one of {', '.join(BULK_ACTIONS)}"}])
    if not ids or len(ids) > MAX_BULK:
        raise InvalidInput([{"field": "ids", "message": f"1 to {MAX_BULK} run ids"}])
    if action in ("tag", "untag"):
        tag = clean_tag(tag)
    results = []
    for run_id in dict.fromkeys(ids):
        run = session.get(Run, run_id)
        if run is None:
            results.append({"id": run_id, "ok": False, "detail": "not found"})
            continue
        try:
            detail = _act(session, run, action, tag, settings)
        except (Conflict, NotFound) as exc:
            session.rollback()
            results.append({"id": run_id, "ok": False, "detail": str(exc)})
        else:
            results.append({"id": run_id, "ok": True, "detail": detail})
    return results


def _act(session: Session, run: Run, action: str, tag: str | None, settings: Any) -> str:
    if action == "cancel":
        run = crud.cancel_run(session, run, settings.stale_after_seconds)
        return "cancelled" if run.status == Status.cancelled else "stopping"
    if action == "delete":
        crud.delete_run(session, run, Path(settings.runs_dir))
        return "deleted"
    tags = list(run.tags or [])
    if action == "tag" and tag not in tags:
        if len(tags) >= MAX_TAGS:
            raise Conflict(f"run {run.id} has {MAX_TAGS} tags already")
        run.tags = [*tags, tag]
    elif action == "untag":
        run.tags = [t for t in tags if t != tag]
    session.add(run)
    session.commit()
    return f"{action}ged {tag}"


def sweep_runs(session: Session, sweep_id: int) -> list[Run]:
    if session.get(Sweep, sweep_id) is None:
        raise NotFound(f"sweep {sweep_id} not found")
    return list(session.exec(select(Run).where(col(Run.sweep_id) == sweep_id)))


def cancel_sweep(session: Session, sweep_id: int, settings: Any) -> list[dict[str, Any]]:
    """Every run of the sweep that has not finished: cancelled (queued) or stopping (running)."""
    active = [r.id for r in sweep_runs(session, sweep_id) if r.status not in TERMINAL]
    return bulk(session, active, "cancel", None, settings) if active else []


def delete_sweep(session: Session, sweep_id: int, settings: Any) -> None:
    """The sweep and all its runs (metrics, checkpoints); 409 while any of them runs."""
    runs = sweep_runs(session, sweep_id)
    running = [r.id for r in runs if r.status == Status.running]
    if running:
        raise Conflict(
            f"sweep {sweep_id} has running runs ({', '.join(map(str, running[:10]))}); "
            "cancel the sweep first"
        )
    for run in runs:
        crud.delete_run(session, run, Path(settings.runs_dir))
    sweep = session.get(Sweep, sweep_id)
    if sweep is not None:
        for trial in session.exec(select(Trial).where(Trial.sweep_id == sweep_id)):
            session.delete(trial)
        session.flush()
        session.delete(sweep)
        session.commit()

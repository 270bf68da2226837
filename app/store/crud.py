"""Database operations on runs and sweeps behind the API and pages: create, list, cancel, retry,
delete (metric points are read in ``app.store.points``).

Every function that changes state commits before returning, so callers enqueue or notify only
what is already stored ("commit, then enqueue").
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from app.store.errors import Conflict, InvalidInput, NotFound, storage_problem
from app.store.filter_sql import order_sql, where_sql
from app.store.filters import SUMMARY_FIELDS as SORTABLE_SUMMARY
from app.store.filters import AllOf, Clause, Filter, parse_where, spec_fields
from app.store.models import TERMINAL, MetricPoint, Run, Status, Sweep, utcnow
from app.store.run_files import run_dir
from app.store.text import like_pattern, reject_nul
from ssl_core.contract.spec import RunSpec, build_spec
from ssl_core.contract.spec_errors import error_messages

__all__ = ["Conflict", "InvalidInput", "NotFound"]  # raised here, caught by the web layers


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def get_sweep(session: Session, sweep_id: int) -> tuple[Sweep, list[Run]]:
    """The sweep and its runs in id order."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFound(f"sweep {sweep_id} not found")
    runs = session.exec(select(Run).where(Run.sweep_id == sweep_id).order_by(Run.id)).all()
    return sweep, list(runs)


def validate_spec(values: Any, preset: str | None = None) -> RunSpec:
    if not isinstance(values, dict):
        raise InvalidInput([{"field": "", "message": "the spec must be a JSON object"}])
    reject_nul(values, "")
    try:
        return build_spec(values, preset)
    except (ValidationError, ValueError) as exc:
        raise InvalidInput(error_messages(exc)) from exc


def default_name(spec: RunSpec) -> str:
    return spec.name or f"{spec.algorithm} {spec.dataset}-{spec.num_labels} seed {spec.seed}"


def new_run(spec: RunSpec, *, sweep_id: int | None = None, retry_of: int | None = None) -> Run:
    return Run(
        name=default_name(spec),
        algorithm=spec.algorithm,
        dataset=spec.dataset,
        spec=spec.to_json_dict(),
        total_steps=spec.total_steps,
        sweep_id=sweep_id,
        retry_of=retry_of,
    )


def create_run(session: Session, values: Any, preset: str | None = None) -> Run:
    return submit_run(session, values, preset)[0]


def submit_run(
    session: Session, values: Any, preset: str | None = None, idempotency_key: str | None = None
) -> tuple[Run, bool]:
    """``(run, created)``: a new queued run, or with ``idempotency_key`` the run made earlier
    with that key (``created`` False: the caller must not enqueue it again)."""
    spec = validate_spec(values, preset)
    if idempotency_key is not None:
        earlier = _run_with_key(session, idempotency_key, spec)
        if earlier is not None:
            return earlier, False
    run = new_run(spec)
    run.idempotency_key = idempotency_key
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        # A retry racing the first attempt stored the key between our look and our insert.
        session.rollback()
        earlier = _run_with_key(session, idempotency_key, spec) if idempotency_key else None
        if earlier is None:
            raise
        return earlier, False
    session.refresh(run)
    return run, True


def _run_with_key(session: Session, key: str, spec: RunSpec) -> Run | None:
    run = session.exec(select(Run).where(Run.idempotency_key == key)).first()
    if run is None:
        return None
    if run.spec != spec.to_json_dict():
        raise InvalidInput(
            [
                {
                    "field": "Idempotency-Key",
                    "message": f"already used for run {run.id} with a different spec; "
                    "send a new key for a new run",
                }
            ]
        )
    return run


def list_runs(
    session: Session,
    *,
    status: Sequence[str] = (),
    algorithm: Sequence[str] = (),
    dataset: Sequence[str] = (),
    sweep_id: int | None = None,
    text: str | None = None,
    where: str | None = None,
    tags: Sequence[str] = (),
    sort: str | None = None,
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Run], int]:
    """Newest first (or by ``sort``, a spec field or summary metric: runs without it last), with
    the exact count of matching runs for paging. ``where`` is the filter grammar of
    ``app.store.filters``; ``tags``: runs carrying every one of them."""
    parts: list[Filter] = [Clause("tag", "=", tag) for tag in tags]
    tree = parse_where(where)
    if tree is not None:
        parts.append(tree)
    if sort not in (None, "created", *SORTABLE_SUMMARY) and sort not in spec_fields():
        raise InvalidInput([{"field": "sort", "message": _sort_message(sort)}])
    dialect = session.get_bind().dialect.name
    query = select(Run)
    if parts:
        query = query.where(where_sql(dialect, AllOf(tuple(parts))))
    if status:
        query = query.where(col(Run.status).in_(status))
    if algorithm:
        query = query.where(col(Run.algorithm).in_(algorithm))
    if dataset:
        query = query.where(col(Run.dataset).in_(dataset))
    if sweep_id is not None:
        query = query.where(Run.sweep_id == sweep_id)
    if text:
        reject_nul(text, "q")
        pattern = like_pattern(text)
        query = query.where(
            or_(
                func.lower(Run.name).like(pattern, escape="\\"),
                func.lower(Run.error).like(pattern, escape="\\"),
            )
        )
    counted = select(func.count()).select_from(query.subquery())
    if sort is None or sort == "created":
        # Newest first: the page stops at its last match; the count is a query of its own.
        query = query.order_by(col(Run.id).desc() if descending else col(Run.id).asc())
        return list(session.exec(query.limit(limit).offset(offset)).all()), session.exec(
            counted
        ).one()
    query = query.order_by(*order_sql(dialect, sort, descending))
    # Sorted by a field, every match is read anyway: one pass counts them and picks the page.
    rows = session.execute(query.add_columns(func.count().over()).limit(limit).offset(offset)).all()
    if rows:
        return [run for run, _ in rows], rows[0][1]
    return [], session.exec(counted).one() if offset else 0


def _sort_message(sort: str) -> str:
    return (
        f"cannot sort by {sort[:80]!r}; use created, a summary metric "
        f"({', '.join(SORTABLE_SUMMARY)}) or a spec field (e.g. lr, hparams.threshold)"
    )


def runs_by_ids(session: Session, ids: Iterable[int]) -> list[Run]:
    return list(session.exec(select(Run).where(col(Run.id).in_(list(ids))).order_by(Run.id)))


def heartbeat_is_stale(run: Run, stale_after_seconds: float) -> bool:
    beat = run.heartbeat_at or run.started_at
    return beat is None or utcnow() - beat > timedelta(seconds=stale_after_seconds)


def cancel_run(session: Session, run: Run, stale_after_seconds: float) -> Run:
    """Queued → cancelled now; running → a flag the worker sees within a few seconds."""
    if run.status in TERMINAL:
        raise Conflict(f"run {run.id} is already {run.status}")
    now = utcnow()
    # Conditional updates: the worker may claim or finish the run between our read and write.
    finish = (
        update(Run)
        .where(col(Run.id) == run.id, col(Run.status) == Status.queued)
        .values(status=Status.cancelled, cancel_requested=True, finished_at=now)
    )
    if session.exec(finish).rowcount == 0:
        flag = update(Run).where(col(Run.id) == run.id, col(Run.status) == Status.running)
        if heartbeat_is_stale(run, stale_after_seconds):
            # Its worker is gone: nobody would ever see the flag.
            flag = flag.values(status=Status.cancelled, cancel_requested=True, finished_at=now)
        else:
            flag = flag.values(cancel_requested=True)
        session.exec(flag)
    session.commit()
    session.refresh(run)
    return run


def retry_run(session: Session, run: Run) -> Run:
    """A new queued run with the same spec (the old one keeps its metrics)."""
    if run.status not in TERMINAL:
        raise Conflict(f"run {run.id} is {run.status}; retry it once it has finished")
    copy = new_run(RunSpec.model_validate(run.spec), sweep_id=run.sweep_id, retry_of=run.id)
    copy.name = run.name
    session.add(copy)
    session.commit()
    session.refresh(copy)
    return copy


def delete_run(session: Session, run: Run, runs_dir: Path) -> None:
    """Delete the row, its points and its checkpoint folder; refused while it trains."""
    if run.status == Status.running:
        raise Conflict(f"run {run.id} is running; cancel it first")
    run_id = run.id
    folder = run_dir(runs_dir, run)  # before the row goes: a legacy folder is matched by its spec
    try:
        _delete_rows(session, run_id)
    except (OperationalError, OSError) as exc:
        # A full disk: the database needs room even to delete. The run's checkpoints are what
        # take room, and a finished run will never need them again: free them, then retry.
        session.rollback()
        if storage_problem(exc) != "disk full" or run.status not in TERMINAL:
            raise
        shutil.rmtree(folder, ignore_errors=True)
        _delete_rows(session, run_id)
    shutil.rmtree(folder, ignore_errors=True)


def _delete_rows(session: Session, run_id: int) -> None:
    session.exec(delete(MetricPoint).where(col(MetricPoint.run_id) == run_id))
    gone = session.exec(
        delete(Run).where(col(Run.id) == run_id, col(Run.status) != Status.running)
    ).rowcount
    if not gone:  # claimed by a worker since we looked
        session.rollback()
        raise Conflict(f"run {run_id} started running; cancel it first")
    session.commit()

"""Starting a search and steering it: pause, resume, extend the budget, stop.

Each is one conditional update of the sweep row followed by ``advance`` (which makes whatever
trials the new state allows), so a repeated request changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.domain.search import advance
from app.domain.search_space import check_search
from app.store import edits
from app.store.errors import Conflict, InvalidInput, NotFound
from app.store.models import Run, Sweep, Trial
from app.store.text import reject_nul


def create_search(
    session: Session,
    method: str,
    base: dict[str, Any],
    space: dict[str, Any],
    seeds: list[int],
    budget: dict[str, Any],
    parallel: int = 1,
    early_stop: dict[str, Any] | None = None,
    sampler_seed: int = 0,
    preset: str | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Sweep, list[int], bool]:
    """Check everything, store the sweep and its first trials; ``(sweep, run ids to enqueue,
    created)`` — with an ``idempotency_key`` used before, the earlier search and no runs."""
    reject_nul(name, "name")
    reject_nul(space, "space")
    check_search(method, base, space, seeds, budget, parallel, preset, early_stop)
    search = {
        "space": space,
        "budget": budget,
        "parallel": parallel,
        "early_stop": early_stop,
        "sampler_seed": sampler_seed,
    }
    if idempotency_key is not None:
        earlier = _with_key(session, idempotency_key, method, base, search, seeds, preset)
        if earlier is not None:
            return earlier, [], False
    name = name or base.get("name") or f"{base.get('algorithm')} {method} over {', '.join(space)}"
    sweep = Sweep(
        name=name,
        base=base,
        preset=preset,
        grid={},
        seeds=list(seeds),
        method=method,
        search=search,
        state="running",
        idempotency_key=idempotency_key,
    )
    session.add(sweep)
    try:
        session.commit()
    except IntegrityError:  # a retry raced us to the key
        session.rollback()
        earlier = _with_key(session, idempotency_key, method, base, search, seeds, preset)
        if earlier is None:
            raise
        return earlier, [], False
    session.refresh(sweep)
    return sweep, advance(session.get_bind(), sweep.id), True


def _with_key(
    session: Session, key: str | None, method: str, base: Any, search: Any, seeds: Any, preset: Any
) -> Sweep | None:
    sweep = session.exec(select(Sweep).where(Sweep.idempotency_key == key)).first()
    if sweep is None:
        return None
    if (sweep.method, sweep.base, sweep.search, sweep.seeds, sweep.preset) != (
        method, base, search, seeds, preset
    ):  # fmt: skip
        message = "this key was used for a different sweep; use a new key for a new sweep"
        raise InvalidInput([{"field": "Idempotency-Key", "message": message}])
    return sweep


def _search(session: Session, sweep_id: int) -> Sweep:
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFound(f"sweep {sweep_id} not found")
    if sweep.search is None:
        raise Conflict(f"sweep {sweep_id} is a grid, not a search: it has no trials to steer")
    return sweep


def _move(session: Session, sweep_id: int, from_states: tuple[str, ...], to: str) -> Sweep:
    sweep = _search(session, sweep_id)
    if sweep.state == to:
        return sweep
    changed = session.exec(
        update(Sweep)
        .where(col(Sweep.id) == sweep_id, col(Sweep.state).in_(from_states))
        .values(state=to)
    ).rowcount
    session.commit()
    session.refresh(sweep)
    if not changed and sweep.state != to:
        raise Conflict(f"search {sweep_id} is {sweep.state}: it cannot become {to}")
    return sweep


def pause_search(session: Session, sweep_id: int) -> Sweep:
    """No new trials; those training go on and are recorded."""
    return _move(session, sweep_id, ("running",), "paused")


def resume_search(session: Session, sweep_id: int) -> tuple[Sweep, list[int]]:
    sweep = _move(session, sweep_id, ("paused",), "running")
    return sweep, advance(session.get_bind(), sweep_id)


def stop_search(session: Session, sweep_id: int, settings: Any) -> Sweep:
    """No new trials, and every unfinished run of it cancelled (its trial is then failed)."""
    sweep = _move(session, sweep_id, ("running", "paused", "finished"), "stopped")
    edits.cancel_sweep(session, sweep_id, settings)
    advance(session.get_bind(), sweep_id)  # records the trials whose runs ended
    return sweep


def extend_search(
    session: Session, sweep_id: int, configs: int | None, steps: int | None
) -> tuple[Sweep, list[int]]:
    """A larger budget (each given number replaces the old one); a finished search runs again."""
    sweep = _search(session, sweep_id)
    if sweep.state == "stopped":
        raise Conflict(f"search {sweep_id} was stopped; start a new search instead")
    budget = dict(sweep.search["budget"])
    for key, value in (("configs", configs), ("steps", steps)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < budget.get(key, 0):
            message = f"must be a whole number, at least the budget's {budget.get(key, 0)}"
            raise InvalidInput([{"field": key, "message": message}])
        budget[key] = value
    if configs is None and steps is None:
        raise InvalidInput([{"field": "configs", "message": "give configs and/or steps"}])
    sweep.search = {**sweep.search, "budget": budget}
    if sweep.state == "finished":
        sweep.state = "running"
    session.add(sweep)
    session.commit()
    session.refresh(sweep)
    return sweep, advance(session.get_bind(), sweep_id)


def trials_of(session: Session, sweep_id: int) -> list[tuple[Trial, list[Run]]]:
    """Each trial in number order with its runs (in seed order)."""
    trials = session.exec(
        select(Trial).where(Trial.sweep_id == sweep_id).order_by(Trial.number)
    ).all()
    ids = [i for t in trials for i in t.run_ids]
    runs = {r.id: r for r in session.exec(select(Run).where(col(Run.id).in_(ids)))} if ids else {}
    return [(t, [runs[i] for i in t.run_ids if i in runs]) for t in trials]

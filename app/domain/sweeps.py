"""Sweeps: a base spec × a grid of dotted spec keys × seeds, expanded into validated runs."""

from __future__ import annotations

import itertools
import math
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.store.crud import InvalidInput, new_run, validate_spec
from app.store.models import Run, Sweep
from app.store.text import reject_nul
from ssl_core.contract.spec import RunSpec, set_dotted

# One sweep is at most this many runs, so a typo in a grid cannot queue days of GPU time.
MAX_SWEEP_RUNS = 200


def _describe(combo: dict[str, Any], short: bool = False) -> str:
    """``{"hparams.fixed_mixup_lambda": 0.3, "seed": 1}`` → ``hparams.fixed_mixup_lambda=0.3,
    seed=1``; ``short`` drops the group (``fixed_mixup_lambda=0.3``) so a member's name shows
    what tells it apart before a table cuts it, and names an algorithm, dataset or net by its
    value alone (``fixmatch, seed=1``)."""
    parts = []
    for key, value in combo.items():
        if short and key in ("algorithm", "dataset", "net"):
            parts.append(str(value))
        else:
            parts.append(f"{key.rsplit('.', 1)[-1] if short else key}={value}")
    return ", ".join(parts)


def expand_sweep(
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    seeds: list[int] | None = None,
    preset: str | None = None,
) -> list[tuple[dict[str, Any], RunSpec]]:
    """Every combination as ``(its grid values and seed, validated spec)``.

    All combinations are validated before any is returned; the errors of all of them are
    reported together (once each), naming the combination they came from.
    """
    errors: list[dict[str, str]] = []
    if not isinstance(base, dict):
        raise InvalidInput([{"field": "base", "message": "must be a JSON object (a run spec)"}])
    for key, values in grid.items():
        if not values:
            errors.append({"field": f"grid.{key}", "message": "needs at least one value"})
    if "seed" in grid and seeds:
        errors.append({"field": "grid.seed", "message": "give seeds in `seeds`, not in the grid"})
    base_seed = base.get("seed", 0)
    if (
        not seeds
        and "seed" not in grid
        and (not isinstance(base_seed, int) or isinstance(base_seed, bool))
    ):
        raise InvalidInput(
            [{"field": "base.seed", "message": f"must be a whole number, not {base_seed!r}"}]
        )
    seeds = list(seeds) if seeds else ([] if "seed" in grid else [base_seed])
    if len(set(seeds)) != len(seeds):
        errors.append({"field": "seeds", "message": f"repeated seeds in {seeds}"})
    size = math.prod(len(v) for v in grid.values()) * max(1, len(seeds))
    if size > MAX_SWEEP_RUNS:
        errors.append(
            {
                "field": "grid",
                "message": f"this sweep would make {size:,} runs; a sweep makes at most "
                f"{MAX_SWEEP_RUNS} (split it into smaller sweeps)",
            }
        )
    if errors:
        raise InvalidInput(errors)

    out: list[tuple[dict[str, Any], RunSpec]] = []
    seen: set[tuple[str, str]] = set()
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        for seed in seeds or [None]:
            combo = dict(zip(keys, values, strict=True))
            if seed is not None:
                combo["seed"] = seed
            try:
                spec_values = base
                for key, value in combo.items():
                    spec_values = set_dotted(spec_values, key, value)
                out.append((combo, validate_spec(spec_values, preset)))
            except InvalidInput as exc:
                for error in exc.errors:
                    if (error["field"], error["message"]) not in seen:
                        seen.add((error["field"], error["message"]))
                        errors.append(
                            {**error, "message": f"{error['message']} ({_describe(combo)})"}
                        )
            except ValueError as exc:  # set_dotted: a key that walks into a non-group field
                field, _, message = str(exc).partition(": ")
                errors.append({"field": f"grid.{field}", "message": message})
    if errors:
        raise InvalidInput(errors)
    return out


def create_sweep(
    session: Session,
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    seeds: list[int] | None = None,
    preset: str | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Sweep, list[Run]]:
    """Validate every run, then store the sweep and its runs in one transaction (with
    ``idempotency_key``: see ``submit_sweep``)."""
    reject_nul(name, "name")
    reject_nul(grid, "grid")
    expanded = expand_sweep(base, grid, seeds, preset)
    name = (
        name
        or base.get("name")
        or f"{base.get('algorithm')} sweep over {', '.join(grid) or 'seeds'}"
    )
    used_seeds = sorted({spec.seed for _, spec in expanded})
    sweep = Sweep(name=name, base=base, preset=preset, grid=grid, seeds=used_seeds)
    sweep.idempotency_key = idempotency_key
    session.add(sweep)
    try:
        session.flush()  # assigns sweep.id for the runs
    except IntegrityError:  # a retry racing the first attempt stored the key first
        session.rollback()
        earlier = _sweep_with_key(session, idempotency_key, base, grid, used_seeds, preset)
        if earlier is None or idempotency_key is None:
            raise
        return earlier
    runs = []
    for combo, spec in expanded:
        run = new_run(spec, sweep_id=sweep.id)
        run.name = f"{_describe(combo, short=True)} · {name}" if combo else name
        runs.append(run)
    session.add_all(runs)
    session.commit()
    for run in runs:
        session.refresh(run)
    return sweep, runs


def submit_sweep(
    session: Session,
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    seeds: list[int] | None = None,
    preset: str | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Sweep, list[Run], bool]:
    """``create_sweep``, or with ``idempotency_key`` the sweep made earlier with that key and the
    same request (``created`` False: the caller must not enqueue its runs again)."""
    if idempotency_key is not None:
        used_seeds = sorted({spec.seed for _, spec in expand_sweep(base, grid, seeds, preset)})
        earlier = _sweep_with_key(session, idempotency_key, base, grid, used_seeds, preset)
        if earlier is not None:
            return *earlier, False
    # (Had a retry raced us to the key, this is its sweep: enqueueing its runs again is
    # harmless, a worker claims a run once.)
    sweep, runs = create_sweep(session, base, grid, seeds, preset, name, idempotency_key)
    return sweep, runs, True


def _sweep_with_key(
    session: Session, key: str, base: Any, grid: Any, seeds: list[int], preset: str | None
) -> tuple[Sweep, list[Run]] | None:
    sweep = session.exec(select(Sweep).where(Sweep.idempotency_key == key)).first()
    if sweep is None:
        return None
    if (sweep.base, sweep.grid, sweep.seeds, sweep.preset) != (base, grid, seeds, preset):
        message = "this key was used for a different sweep; use a new key for a new sweep"
        raise InvalidInput([{"field": "Idempotency-Key", "message": message}])
    runs = list(session.exec(select(Run).where(Run.sweep_id == sweep.id).order_by(Run.id)))
    return sweep, runs

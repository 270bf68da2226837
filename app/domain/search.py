"""Random and TPE searches: trials asked for one by one, their state in the database only.

The database rows are the search: a sweep row (space, budget, parallel, sampler seed, state)
and one ``Trial`` row per configuration asked for, with the ids of its runs (one per seed).
Nothing lives in a process, so restarting the web app or killing a worker loses nothing:
``advance`` rebuilds an in-memory Optuna study from the trial rows each time it asks (finished
trials added with ``study.add_trial``). Optuna's own RDB storage was not used: it would keep a
second copy of every trial in tables outside our migrations, one that can disagree with the
runs, which stay the truth.

``advance`` is idempotent and safe to run from many processes at once: settling a trial is a
conditional update from ``running``, and a new trial is inserted with the next number under a
unique (sweep, number) index, so of two processes asking at once one inserts and the other
finds the number taken and looks again. It runs when a run of the search ends (the worker),
from the worker's watchdog (catching up on a worker killed between the two), and on a change
made through the API (create, resume, extend).
"""

from __future__ import annotations

import logging
from statistics import fmean
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.domain.search_space import distributions
from app.store.crud import InvalidInput, new_run, validate_spec
from app.store.models import TERMINAL, Run, Status, Sweep, Trial, TrialState, utcnow
from ssl_core.contract.spec import set_dotted
from ssl_core.contract.summary import SEARCH_OBJECTIVE

log = logging.getLogger(__name__)

# The objective: the mean over the seeds of this summary field (validation, never test).
STATES = ("running", "paused", "stopped", "finished")


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float) else f"{k.rsplit('.', 1)[-1]}={v}"
        for k, v in params.items()
    )


def _settle(engine: Engine, sweep_id: int) -> None:
    """Every running trial whose runs all ended: complete (with its objective) or failed."""
    with Session(engine) as session:
        trials = session.exec(
            select(Trial).where(Trial.sweep_id == sweep_id, Trial.state == TrialState.running)
        ).all()
        for trial in trials:
            runs = session.exec(select(Run).where(col(Run.id).in_(trial.run_ids))).all()
            if len(runs) < len(trial.run_ids):
                state, objective, reason = TrialState.failed, None, "a run was deleted"
            elif any(run.status not in TERMINAL for run in runs):
                continue
            else:
                bad = [run for run in runs if run.status not in (Status.succeeded, Status.pruned)]
                stopped = [run for run in runs if run.status == Status.pruned]
                values = [(run.summary or {}).get(SEARCH_OBJECTIVE) for run in runs]
                if bad:
                    first = bad[0]
                    said = (first.error or "").strip().splitlines()[:1]
                    reason = f"run {first.id} (seed {first.spec.get('seed')}) {first.status}"
                    reason += f": {said[0]}" if said else ""
                    state, objective = TrialState.failed, None
                elif stopped:
                    state, objective = TrialState.pruned, None
                    reason = stopped[0].stop_reason or "stopped early"
                elif any(v is None for v in values):
                    state, objective, reason = TrialState.failed, None, "no validation metric"
                else:
                    state, objective, reason = TrialState.complete, fmean(values), None
            session.exec(
                update(Trial)
                .where(col(Trial.id) == trial.id, col(Trial.state) == TrialState.running)
                .values(state=state, objective=objective, reason=reason, finished_at=utcnow())
            )
        session.commit()


def planned_steps(sweep: Sweep, params: dict[str, Any]) -> int:
    """Training steps a configuration costs over all the seeds (its spec's total steps)."""
    values = sweep.base
    for key, value in params.items():
        values = set_dotted(values, key, value)
    return validate_spec(values, sweep.preset).total_steps * len(sweep.seeds)


def suggest(sweep: Sweep, trials: list[Trial]) -> dict[str, Any]:
    """The next configuration: an Optuna study rebuilt from the trial rows, asked once.

    The sampler is seeded from the sweep's sampler seed and the trial's number, so the same
    search with the same finished trials asks for the same configuration whichever process
    asks, and a search run again with the same seed repeats its configurations."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = distributions(sweep.search["space"])
    seed = int(sweep.search.get("sampler_seed", 0)) * 100_003 + len(trials)
    if sweep.method == "tpe":
        configs = sweep.search["budget"].get("configs") or 30
        startup = max(2, min(10, configs // 3))
        sampler: Any = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, constant_liar=True
        )
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for trial in trials:
        state = {
            TrialState.complete: optuna.trial.TrialState.COMPLETE,
            TrialState.failed: optuna.trial.TrialState.FAIL,
            TrialState.pruned: optuna.trial.TrialState.PRUNED,
        }.get(trial.state, optuna.trial.TrialState.RUNNING)
        study.add_trial(
            optuna.trial.create_trial(
                params=trial.params,
                distributions=space,
                value=trial.objective if state == optuna.trial.TrialState.COMPLETE else None,
                state=state,
            )
        )
    return study.ask(space).params


def _new_trial(session: Session, sweep: Sweep, number: int, params: dict[str, Any]) -> Trial:
    """The trial row and its runs (one per seed), or a failed trial when the spec refuses it."""
    trial = Trial(sweep_id=sweep.id, number=number, params=params)
    session.add(trial)
    session.flush()  # the unique (sweep, number) index: IntegrityError if another process won
    runs = []
    try:
        for seed in sweep.seeds:
            values = sweep.base
            for key, value in {**params, "seed": seed}.items():
                values = set_dotted(values, key, value)
            run = new_run(validate_spec(values, sweep.preset), sweep_id=sweep.id)
            run.name = f"#{number} {_describe(params)}, seed={seed} · {sweep.name}"
            runs.append(run)
    except (InvalidInput, ValueError) as exc:
        trial.state, trial.finished_at = TrialState.failed, utcnow()
        trial.reason = f"the run spec refused this configuration: {exc}"
        return trial
    session.add_all(runs)
    session.flush()
    trial.run_ids = [run.id for run in runs]
    return trial


def advance(engine: Engine, sweep_id: int) -> list[int]:
    """Settle finished trials, then ask for new ones while the search runs, has room under
    ``parallel`` and budget left; the ids of the runs made (to enqueue after this commits)."""
    made: list[int] = []
    _settle(engine, sweep_id)
    for _ in range(1000):  # each pass makes a trial or stops; a bound against a livelock
        with Session(engine) as session:
            sweep = session.get(Sweep, sweep_id)
            if sweep is None or sweep.search is None or sweep.state != "running":
                return made
            trials = list(
                session.exec(select(Trial).where(Trial.sweep_id == sweep_id).order_by(Trial.number))
            )
            running = sum(t.state == TrialState.running for t in trials)
            if running >= sweep.search["parallel"]:
                return made
            params = suggest(sweep, trials) if _budget_left(sweep, trials, None) else None
            if params is not None and not _budget_left(sweep, trials, _steps(sweep, params)):
                params = None
            if params is None:
                if not running:  # the budget is spent and every trial ended
                    session.exec(
                        update(Sweep)
                        .where(col(Sweep.id) == sweep_id, col(Sweep.state) == "running")
                        .values(state="finished")
                    )
                    session.commit()
                return made
            try:
                trial = _new_trial(session, sweep, len(trials), params)
                session.commit()
            except IntegrityError:  # another process made this number first: look again
                session.rollback()
                continue
            made.extend(trial.run_ids)
            log.info("search %s: trial %s asks for %s", sweep_id, trial.number, params)
    return made


def _steps(sweep: Sweep, params: dict[str, Any]) -> int | None:
    try:
        return planned_steps(sweep, params)
    except (InvalidInput, ValueError):
        return None  # refused: recorded as a failed trial, costing nothing


def _budget_left(sweep: Sweep, trials: list[Trial], next_steps: int | None) -> bool:
    """Room for one more trial (costing ``next_steps``, when known) within the budget."""
    budget = sweep.search["budget"]
    if budget.get("configs") is not None and len(trials) >= budget["configs"]:
        return False
    if budget.get("steps") is not None:
        spent = sum(planned_steps(sweep, t.params) for t in trials if t.run_ids)
        return spent + (next_steps or 1) <= budget["steps"]
    return True

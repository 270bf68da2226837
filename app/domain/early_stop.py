"""A search's early stopping: asynchronous successive halving (ASHA) with seed-paired decisions,
and collapse stops. Decisions are read from the stored metric points, so any process can make
them and a repeated check makes none twice.

The rules (``early_stop`` of a search, each setting with its default):

- ``min_step``: no stop before it. Default: the largest of a quarter of the run, the
  algorithm's λu ramp-up (``hparams.rampup_iters``, ``hparams.unlabeled_warmup`` × steps):
  thresholding methods start slowly (mask ≈ 0 early), so early speed must not rank them.
- ASHA (``method: "asha"``): rungs at ``min_step`` × ``reduction``^k steps (``reduction`` 3). A
  configuration is judged at each rung all of its seeds have reached, and only against
  configurations whose *same seeds* reached that rung (every trial of a search has the same
  seeds, so the comparison is seed-paired: a mean over the same seeds on both sides). Its score
  there is, per seed, the best validation top-1 up to the rung (patience for jitter: one bad
  evaluation does not count), averaged over the seeds. It is stopped when at least
  ``reduction`` configurations reached the rung and it is not in the top 1 / ``reduction``.
- Collapse (``collapse``: true): after ``min_step``, a seed's mask ratio under ``mask_floor``
  (0.01) for ``patience`` (5) evaluations in a row.

A stop asks the run's worker to stop (the cancel flag) with ``stop_reason`` in words; the run
then ends as ``pruned``, keeping its checkpoint (a resume by hand continues it).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.store.models import MetricPoint, Run, Status, Sweep, Trial, TrialState, utcnow
from ssl_core.contract.metrics import MASK_RATIO, VAL_TOP1
from ssl_core.contract.summary import BEST_VAL_TOP1, SUMMARY_FIELDS

EARLY_STOP_METHODS = ("asha", "none")
BEST_LABEL = SUMMARY_FIELDS[BEST_VAL_TOP1].label
DEFAULTS: dict[str, Any] = {
    "method": "asha",
    "reduction": 3,
    "min_step": None,
    "collapse": True,
    "mask_floor": 0.01,
    "patience": 5,
}


def check_early_stop(value: Any) -> list[dict[str, str]]:
    """The problems of a search's ``early_stop`` setting (none: ``[]``)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [{"field": "early_stop", "message": 'must be an object, e.g. {"method": "asha"}'}]
    errors = []
    for key in sorted(set(value) - set(DEFAULTS)):
        valid = ", ".join(DEFAULTS)
        errors.append({"field": f"early_stop.{key}", "message": f"unknown; valid: {valid}"})
    if value.get("method", "asha") not in EARLY_STOP_METHODS:
        message = f"must be one of {', '.join(EARLY_STOP_METHODS)}"
        errors.append({"field": "early_stop.method", "message": message})
    checks = {
        "reduction": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
        "min_step": lambda v: v is None or (isinstance(v, int) and v >= 0),
        "patience": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "mask_floor": lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
        "collapse": lambda v: isinstance(v, bool),
    }
    for key, ok in checks.items():
        if key in value and not ok(value[key]):
            errors.append({"field": f"early_stop.{key}", "message": f"not valid: {value[key]!r}"})
    return errors


def min_step(spec: dict[str, Any], settings: dict[str, Any]) -> int:
    """The first step a run may be stopped at (see the module's rules)."""
    if settings.get("min_step") is not None:
        return int(settings["min_step"])
    total = spec["epochs"] * spec["iters_per_epoch"]
    hparams = spec.get("hparams") or {}
    ramp = max(hparams.get("rampup_iters") or 0, (hparams.get("unlabeled_warmup") or 0) * total)
    return int(max(total // 4, ramp))


def _series(session: Session, run_ids: list[int], key: str) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {i: [] for i in run_ids}
    rows = session.exec(
        select(MetricPoint.run_id, MetricPoint.step, MetricPoint.value)
        .where(col(MetricPoint.run_id).in_(run_ids), MetricPoint.key == key)
        .order_by(MetricPoint.run_id, MetricPoint.epoch)
    )
    for run_id, step, value in rows:
        out[run_id].append((step, value))
    return out


def _collapse(
    points: list[tuple[int, float]], start: int, floor: float, patience: int
) -> str | None:
    late = [(s, v) for s, v in points if s >= start]
    if len(late) < patience or any(v >= floor for _, v in late[-patience:]):
        return None
    step, value = late[-1]
    return f"stopped at step {step:,}: mask ratio {value:.2f} for {patience} evaluations"


def decide(engine: Engine, sweep_id: int) -> dict[int, str]:
    """Trials to stop now: trial id → the reason in words."""
    with Session(engine) as session:
        sweep = session.get(Sweep, sweep_id)
        chosen = ((sweep.search or {}) if sweep is not None else {}).get("early_stop")
        if not chosen:
            return {}
        settings = {**DEFAULTS, **chosen}
        trials = [
            t for t in session.exec(select(Trial).where(Trial.sweep_id == sweep_id))
            if t.state != TrialState.failed and t.run_ids
        ]  # fmt: skip
        runs = {
            r.id: r
            for r in session.exec(
                select(Run).where(col(Run.id).in_([i for t in trials for i in t.run_ids]))
            )
        }
        ids = list(runs)
        val, mask = _series(session, ids, VAL_TOP1), _series(session, ids, MASK_RATIO)
    if not trials:
        return {}
    spec = next(iter(runs.values())).spec
    start = min_step(spec, settings)
    total = spec["epochs"] * spec["iters_per_epoch"]
    stops: dict[int, str] = {}
    live = [t for t in trials if t.state == TrialState.running]
    if settings["collapse"]:
        for trial in live:
            for run_id in trial.run_ids:
                said = _collapse(mask[run_id], start, settings["mask_floor"], settings["patience"])
                if said:
                    stops[trial.id] = f"{said} (seed {runs[run_id].spec.get('seed')})"
                    break
    if settings["method"] != "asha" or start <= 0:
        return stops
    eta = settings["reduction"]
    rungs = []
    rung = start
    while rung < total:
        rungs.append(rung)
        rung *= eta

    def score(trial: Trial, rung: int) -> float | None:
        """Mean over the trial's seeds of the best val top-1 up to ``rung``; None until every
        seed reached it."""
        per_seed = []
        for run_id in trial.run_ids:
            points = val[run_id]
            if not points or points[-1][0] < rung:
                return None
            per_seed.append(
                max(v for s, v in points if s <= rung) if points[0][0] <= rung else None
            )
        return None if None in per_seed else sum(per_seed) / len(per_seed)

    for trial in live:
        if trial.id in stops:
            continue
        for rung in rungs:  # judged at each rung its seeds reached, as ASHA on arrival
            mine = score(trial, rung)
            if mine is None:
                break
            scores = sorted((s for t in trials if (s := score(t, rung)) is not None), reverse=True)
            keep = math.ceil(len(scores) / eta)
            if len(scores) >= eta and mine < scores[keep - 1]:
                stops[trial.id] = (
                    f"stopped at step {rung:,}: mean {BEST_LABEL} {mine:.1f} over its seeds, "
                    f"below the top {keep} of {len(scores)} configurations at this rung "
                    f"({scores[keep - 1]:.1f})"
                )
                break
    return stops


def apply_stops(engine: Engine, sweep_id: int) -> dict[int, str]:
    """Ask every unfinished run of each trial ``decide`` stops to stop, once; what was asked."""
    stops = decide(engine, sweep_id)
    with Session(engine) as session:
        for trial_id, reason in stops.items():
            trial = session.get(Trial, trial_id)
            # A run still queued ends here; a training one at its worker's next flag check.
            session.exec(
                update(Run)
                .where(col(Run.id).in_(trial.run_ids), col(Run.status) == Status.queued)
                .values(status=Status.pruned, stop_reason=reason, finished_at=utcnow())
            )
            session.exec(
                update(Run)
                .where(
                    col(Run.id).in_(trial.run_ids),
                    col(Run.status) == Status.running,
                    col(Run.stop_reason).is_(None),
                )
                .values(cancel_requested=True, stop_reason=reason)
            )
        session.commit()
    return stops

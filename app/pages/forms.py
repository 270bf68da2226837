"""The launch forms: one run (``/runs/new``) and a sweep (``/sweeps/new``).

Validation is the API's: ``crud.create_run`` and ``sweeps.create_sweep`` raise ``InvalidInput``
with ``[{field, message}]``, which the form shows next to the fields, keeping what was typed.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import FormDep, SessionDep, SessionRoute, SettingsDep
from app.domain.sweeps import MAX_SWEEP_RUNS, create_sweep
from app.pages import form_state
from app.pages.render import redirect, render
from app.queue import enqueue, enqueue_all
from app.store import crud
from ssl_core.contract.catalog import DEMO_ALGORITHMS
from ssl_core.contract.spec import ALGORITHMS, PRESETS, RunSpec

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

GRID_ROWS = 4
# Suggestions for the swept-field inputs: every spec field a sweep can vary.
SWEEP_FIELDS = [k for k in RunSpec.model_fields if k not in ("hparams", "name", "notes", "seed")]
SWEEP_FIELDS += sorted(
    {f"hparams.{f}" for m in form_state.PARAMS_BY_ALGORITHM.values() for f in m.model_fields}
    - {"hparams.algorithm"}
)


def _errors_by_field(errors: list[dict[str, str]], fields: set[str]) -> tuple[dict, list]:
    """Messages for fields the form shows, and the rest (shown above the form)."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        if error["field"] in fields and error["field"] not in by_field:
            by_field[error["field"]] = error["message"]
        elif error["field"] in fields:
            by_field[error["field"]] += f"; {error['message']}"
        else:
            general.append(
                f"{error['field']}: {error['message']}" if error["field"] else error["message"]
            )
    return by_field, general


def _render_run_form(
    request: Request, state: dict[str, Any], errors: list[dict[str, str]], status_code: int = 200
) -> HTMLResponse:
    sections = form_state.run_inputs(state["algorithm"])
    names = {item.name for _, inputs in sections for item in inputs}
    by_field, general = _errors_by_field(errors, names)
    return render(
        request,
        "run_new.html",
        status_code,
        sections=sections,
        state=state,
        errors=by_field,
        general_errors=general,
        presets=list(PRESETS),
    )


def _redraw(request: Request, values: Any) -> HTMLResponse:
    """The form filled from ``values`` (a query or a posted form), a preset applied if named."""
    asked = values.get("algorithm")
    algorithm = asked if asked in ALGORITHMS else "fixmatch"
    state = {**form_state.form_state(values, values.getlist, algorithm), "algorithm": algorithm}
    errors = []
    if asked is not None and asked not in ALGORITHMS:
        message = f"unknown algorithm {str(asked)[:40]!r}; valid: {', '.join(ALGORITHMS)}"
        return _render_run_form(request, state, [{"field": "algorithm", "message": message}], 422)
    preset = values.get("preset")
    if preset:
        state, problem = form_state.preset_state(state, str(preset))
        if problem:
            errors.append({"field": "", "message": problem})
    return _render_run_form(request, state, errors)


@router.get("/runs/new", response_class=HTMLResponse)
def new_run_form(request: Request) -> HTMLResponse:
    """The form, optionally pre-filled from the query (``?algorithm=mixmatch&preset=paper``)."""
    return _redraw(request, request.query_params)


@router.post("/runs/new/redraw", response_class=HTMLResponse)
def redraw_run_form(request: Request, form: FormDep) -> HTMLResponse:
    """The preset buttons and a changed algorithm: the form again with what was typed, a preset
    applied. A POST, so the form's CSRF token never lands in a URL (history, access logs);
    it creates nothing."""
    return _redraw(request, form)


@router.post("/runs/new", response_model=None)
def submit_run_form(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep
) -> Response:
    algorithm = form.get("algorithm")
    if algorithm not in ALGORITHMS:
        state = form_state.default_state("fixmatch")
        message = f"must be one of {', '.join(ALGORITHMS)}"
        return _render_run_form(request, state, [{"field": "algorithm", "message": message}], 422)
    state = form_state.form_state(form, form.getlist, str(algorithm))
    try:
        run = crud.create_run(session, form_state.spec_values(state))
    except crud.InvalidInput as exc:
        return _render_run_form(request, state, exc.errors, 422)
    session.close()  # no database connection held across the network call
    queued = enqueue(settings.redis_url, run.id)
    return redirect(f"/runs/{run.id}" + ("" if queued else "?queue=unreachable"))


# ---- sweeps ----
DIGITS = {"dataset": "digits", "num_labels": 40}
# The seed tutorial ran both ablations on CIFAR-10 (WRN-28-2) with its own settings — the
# `tutorial` preset: 128 → 120 labels, Adam 0.002, EMA 0.9, λu 75, 5 epochs × 128 iterations.
# Here they run on digits so they finish on a CPU; pick cifar10 to reproduce them exactly.
SEED_SETUP = "the seed's settings (tutorial preset) on digits instead of CIFAR-10"
TEMPLATES: dict[str, dict[str, Any]] = {
    "weak_augment": {
        "title": "MixMatch: weak augmentation ablation",
        "about": "the seed's first table: pad-crop (R), flip (F) and gaussian noise (G) each "
        f"alone as MixMatch's weak augmentation; {SEED_SETUP}",
        "name": "MixMatch weak augmentation (seed table 1)",
        "preset": "tutorial",
        "base": {"algorithm": "mixmatch", "dataset": "digits"},
        "grid": [("weak_augment", "crop, flip, noise")],
        "seeds": "0, 1, 2",
    },
    "mixup_lambda": {
        "title": "MixMatch: fixed mixup λ",
        "about": "the seed's second table: λ ∈ {0.1, 0.3, 0.5, 0.7, 0.9} fixed instead of the "
        f"Beta(α, α) draw, plus the draw itself (null) as the baseline; {SEED_SETUP}",
        "name": "MixMatch fixed mixup lambda (seed table 2)",
        "preset": "tutorial",
        "base": {"algorithm": "mixmatch", "dataset": "digits"},
        "grid": [("hparams.fixed_mixup_lambda", "null, 0.1, 0.3, 0.5, 0.7, 0.9")],
        "seeds": "0, 1, 2",
    },
    "algorithms": {
        "title": "MixMatch vs FixMatch vs FlexMatch vs labels only",
        "about": "the seed's plan (MixMatch → FixMatch → FlexMatch) against the labeled-only "
        "baseline, on the same labels and budget, over three seeds (the demo's comparison)",
        "name": "Algorithm comparison",
        "base": DIGITS,
        "grid": [("algorithm", ", ".join(DEMO_ALGORITHMS))],
        "seeds": "0, 1, 2",
    },
    "all_algorithms": {
        "title": "Every algorithm against labels only",
        "about": "every algorithm matchlab knows — the built-in ones and any installed plugin — "
        "on digits with 40 labels, each with its own defaults (μ included) and the same steps",
        "name": "All algorithms",
        "base": DIGITS,
        "grid": [("algorithm", ", ".join(ALGORITHMS))],
        "seeds": "0",
    },
    "short_budget": {
        "title": "Short budget: Fashion-MNIST, 40 labels, 600 steps",
        "about": "every algorithm against labels only on Fashion-MNIST with 40 labels at the CPU "
        "defaults (600 steps of a small CNN), over five seeds: the study in "
        "docs/STUDY_fashion_mnist_40.md, one click",
        "name": "Short budget: Fashion-MNIST-40",
        "base": {"dataset": "fashion_mnist", "num_labels": 40},
        "grid": [("algorithm", ", ".join(DEMO_ALGORITHMS))],
        "seeds": "0, 1, 2, 3, 4",
    },
}
BLANK_SWEEP = {
    "name": "",
    "base": {"algorithm": "fixmatch", **DIGITS},
    "grid": [("hparams.threshold", "0.8, 0.9, 0.95")],
    "seeds": "0, 1",
}


def _sweep_state(source: dict[str, Any]) -> dict[str, Any]:
    grid = list(source["grid"]) + [("", "")] * (GRID_ROWS - len(source["grid"]))
    return {
        "name": source.get("name", ""),
        "preset": source.get("preset", ""),
        "base": json.dumps(source["base"], indent=2),
        "grid": grid[:GRID_ROWS],
        "seeds": source["seeds"],
    }


def _render_sweep_form(
    request: Request, state: dict[str, Any], errors: list[dict[str, str]], status_code: int = 200
) -> HTMLResponse:
    swept = {k for k, _ in state["grid"] if k}
    keys = {"name", "preset", "base", "seeds"} | {f"grid.{k}" for k in swept}
    # A spec error belongs to the swept row it names, else to the base spec.
    placed = []
    for error in errors:
        field = error["field"]
        if field in swept:
            error = {**error, "field": f"grid.{field}"}
        elif field and field not in keys and not field.startswith("grid"):
            error = {"field": "base", "message": f"{field}: {error['message']}"}
        placed.append(error)
    by_field, general = _errors_by_field(placed, keys)
    return render(
        request,
        "sweep_new.html",
        status_code,
        state=state,
        errors=by_field,
        general_errors=general,
        templates=TEMPLATES,
        presets=list(PRESETS),
        sweep_fields=SWEEP_FIELDS,
        max_runs=MAX_SWEEP_RUNS,
    )


@router.get("/sweeps/new", response_class=HTMLResponse)
def new_sweep_form(request: Request, template: str | None = None) -> HTMLResponse:
    return _render_sweep_form(request, _sweep_state(TEMPLATES.get(template or "", BLANK_SWEEP)), [])


def _parse_sweep(form: Any) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]:
    """Form text → (state to redraw, arguments of create_sweep, parse errors)."""
    state = {
        "name": str(form.get("name", "")).strip(),
        "preset": str(form.get("preset", "")),
        "base": str(form.get("base", "")),
        "grid": [(str(form.get(f"grid_key_{i}", "")).strip(), str(form.get(f"grid_values_{i}", "")))
                 for i in range(GRID_ROWS)],
        "seeds": str(form.get("seeds", "")),
    }  # fmt: skip
    errors: list[dict[str, str]] = []
    try:
        base = json.loads(state["base"] or "{}")
    except ValueError as exc:
        errors.append({"field": "base", "message": f"not valid JSON: {exc}"})
        base = {}
    except RecursionError:
        errors.append({"field": "base", "message": "nested too deep: a run spec is a few levels"})
        base = {}
    grid: dict[str, list[Any]] = {}
    for key, text in state["grid"]:
        if key:
            if key in grid:
                errors.append({"field": f"grid.{key}", "message": "swept twice; use one row"})
            grid[key] = form_state.parse_values(key, text)
    try:
        seeds = form_state.parse_seeds(state["seeds"])
    except ValueError as exc:
        errors.append({"field": "seeds", "message": str(exc).partition(": ")[2]})
        seeds = []
    args = {
        "base": base,
        "grid": grid,
        "seeds": seeds or None,
        "preset": state["preset"] or None,
        "name": state["name"] or None,
    }
    return state, args, errors


@router.post("/sweeps/new", response_model=None)
def submit_sweep_form(
    request: Request, form: FormDep, session: SessionDep, settings: SettingsDep
) -> Response:
    state, args, errors = _parse_sweep(form)
    if errors:
        return _render_sweep_form(request, state, errors, 422)
    try:
        sweep, runs = create_sweep(session, **args)
    except crud.InvalidInput as exc:
        return _render_sweep_form(request, state, exc.errors, 422)
    session.close()  # no database connection held across the network calls
    queued = enqueue_all(settings.redis_url, [run.id for run in runs])
    return redirect(f"/sweeps/{sweep.id}" + ("" if queued else "?queue=unreachable"))

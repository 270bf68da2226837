"""A search's settings, checked whole: the space per spec field, the budget, parallel, seeds.

Every problem is reported together, each naming its field (``space.lr.low``, ``budget``), as
the 422 of ``POST /api/sweeps``. Each field's bounds (and every choice) are also checked
against the run spec itself, so a search never asks for a configuration the RunSpec refuses.
"""

from __future__ import annotations

import math
from typing import Any

from app.domain.early_stop import check_early_stop
from app.store.crud import InvalidInput, validate_spec
from ssl_core.contract.spec import set_dotted

METHODS = ("grid", "random", "tpe")
SEARCH_METHODS = ("random", "tpe")
SPACE_TYPES = ("log_uniform", "uniform", "int", "choice")
# As with grids: a typo in a budget must not queue days of GPU time.
MAX_SEARCH_CONFIGS = 500
MAX_SEARCH_SEEDS = 20


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_dimension(key: str, dim: Any, errors: list[dict[str, str]]) -> list[Any]:
    """The values that bound dimension ``key`` (to try on the spec); problems go to ``errors``."""
    field = f"space.{key}"
    if not isinstance(dim, dict):
        errors.append({"field": field, "message": f"must be an object with a type {SPACE_TYPES}"})
        return []
    kind = dim.get("type")
    if kind not in SPACE_TYPES:
        message = f"type must be one of {', '.join(SPACE_TYPES)}, not {kind!r}"
        errors.append({"field": f"{field}.type", "message": message})
        return []
    allowed = {"type", "values"} if kind == "choice" else {"type", "low", "high", "log"}
    for extra in sorted(set(dim) - allowed):
        message = f"unknown setting for a {kind} dimension; valid: {', '.join(sorted(allowed))}"
        errors.append({"field": f"{field}.{extra}", "message": message})
    if kind == "choice":
        values = dim.get("values")
        if not isinstance(values, list) or not values:
            errors.append({"field": f"{field}.values", "message": "a choice needs values"})
            return []
        if len({repr(v) for v in values}) != len(values):
            errors.append({"field": f"{field}.values", "message": f"repeated values {values}"})
        if any(not (v is None or isinstance(v, (bool, int, float, str))) for v in values):
            message = "choices must be numbers, strings, true/false or null"
            errors.append({"field": f"{field}.values", "message": message})
            return []
        return values
    low, high = dim.get("low"), dim.get("high")
    check = _whole if kind == "int" else _number
    what = "a whole number" if kind == "int" else "a number"
    bad = False
    for name, value in (("low", low), ("high", high)):
        if not check(value):
            errors.append({"field": f"{field}.{name}", "message": f"needs {what}, not {value!r}"})
            bad = True
    if bad:
        return []
    if low >= high:
        errors.append({"field": field, "message": f"low must be below high (got {low}, {high})"})
        return []
    if (kind == "log_uniform" or dim.get("log")) and low <= 0:
        errors.append({"field": f"{field}.low", "message": "must be above 0 on a log scale"})
        return []
    return [low, high]


def check_search(
    method: Any,
    base: Any,
    space: Any,
    seeds: Any,
    budget: Any,
    parallel: Any,
    preset: str | None,
    early_stop: Any = None,
) -> None:
    """Raise ``InvalidInput`` listing every problem of a random/TPE search's settings."""
    errors: list[dict[str, str]] = []
    if method not in SEARCH_METHODS:
        message = f"must be one of {', '.join(METHODS)}, not {method!r}"
        raise InvalidInput([{"field": "method", "message": message}])
    if not isinstance(base, dict):
        raise InvalidInput([{"field": "base", "message": "must be a JSON object (a run spec)"}])
    if not isinstance(space, dict) or not space:
        errors.append({"field": "space", "message": "a search needs a space: field → range"})
        space = {}
    if not isinstance(seeds, list) or not seeds or not all(_whole(s) for s in seeds):
        errors.append({"field": "seeds", "message": "a search needs a list of whole-number seeds"})
    elif len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEARCH_SEEDS:
        message = f"needs distinct seeds, at most {MAX_SEARCH_SEEDS} (got {seeds})"
        errors.append({"field": "seeds", "message": message})
    if "seed" in space:
        errors.append({"field": "space.seed", "message": "give seeds in `seeds`, not the space"})
    _check_budget(budget, errors)
    errors.extend(check_early_stop(early_stop))
    if not _whole(parallel) or parallel < 1:
        errors.append({"field": "parallel", "message": f"must be 1 or more, not {parallel!r}"})
    try:
        validate_spec(base, preset)
    except InvalidInput as exc:
        errors.extend({**e, "field": f"base.{e['field']}".rstrip(".")} for e in exc.errors)
        raise InvalidInput(errors) from None
    for key, dim in space.items():
        for value in _check_dimension(key, dim, errors):
            try:
                validate_spec(set_dotted(base, key, value), preset)
            except InvalidInput as exc:
                for e in exc.errors:
                    message = f"{key}={value!r} is refused by the run spec: {e['message']}"
                    errors.append({"field": f"space.{key}", "message": message})
                break
            except ValueError as exc:  # a key that is no spec field, or walks into one
                _, _, message = str(exc).partition(": ")
                errors.append({"field": f"space.{key}", "message": message or str(exc)})
                break
    if errors:
        raise InvalidInput(errors)


def _check_budget(budget: Any, errors: list[dict[str, str]]) -> None:
    if not isinstance(budget, dict) or not ({"configs", "steps"} & set(budget)):
        message = 'a search needs a budget: {"configs": N} and/or {"steps": N}'
        errors.append({"field": "budget", "message": message})
        return
    for extra in sorted(set(budget) - {"configs", "steps"}):
        errors.append({"field": f"budget.{extra}", "message": "valid: configs, steps"})
    configs, steps = budget.get("configs"), budget.get("steps")
    if configs is not None and (not _whole(configs) or not 1 <= configs <= MAX_SEARCH_CONFIGS):
        message = f"must be a whole number from 1 to {MAX_SEARCH_CONFIGS}, not {configs!r}"
        errors.append({"field": "budget.configs", "message": message})
    if steps is not None and (not _whole(steps) or steps < 1):
        errors.append({"field": "budget.steps", "message": f"must be 1 or more, not {steps!r}"})


def distributions(space: dict[str, Any]) -> dict[str, Any]:
    """Optuna's distribution for each field of a checked space (Optuna imported on first use)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for key, dim in space.items():
        kind = dim["type"]
        if kind == "choice":
            out[key] = CategoricalDistribution(dim["values"])
        elif kind == "int":
            out[key] = IntDistribution(dim["low"], dim["high"], log=bool(dim.get("log")))
        else:
            log = kind == "log_uniform" or bool(dim.get("log"))
            out[key] = FloatDistribution(float(dim["low"]), float(dim["high"]), log=log)
    return out

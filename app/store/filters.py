"""The run filter grammar, shared by the runs page and ``GET /api/runs?where=…``.

    where  := clause ( " and " clause )*
    clause := field op value
    field  := a dotted spec field (``lr``, ``hparams.threshold``, ``weak_augment``), a summary
              metric (``test_top1_at_best_val``, ``best_val_top1``, ``last_test_top1``,
              ``best_epoch``), ``status``, ``name`` or ``tag``
    op     := = | != | < | <= | > | >= | ~        (~: contains, case-insensitive)
    value  := a number, true, false, null, or text (quotes optional: 'a b' or "a b")

Examples: ``hparams.threshold >= 0.9 and test_top1_at_best_val > 90``,
``algorithm = fixmatch and tag = ablation``, ``name ~ lambda``. A run without the field (another
algorithm's hyperparameter, no summary yet) does not match a comparison. Errors name the clause
and what would be valid.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.store.errors import InvalidInput
from app.store.models import Run
from ssl_core.contract.spec import PARAMS_BY_ALGORITHM, RunSpec, flatten_spec
from ssl_core.contract.summary import BEST_EPOCH, STATISTICS

SUMMARY_FIELDS = (*STATISTICS, BEST_EPOCH)
WHERE_EXAMPLE = f"hparams.threshold >= 0.9 and {STATISTICS[0]} > 90"
COLUMNS_EXAMPLE = f"hparams.threshold,{STATISTICS[0]}"
OTHER_FIELDS = ("status", "name", "tag")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne, "=": operator.eq,
    "<": operator.lt, ">": operator.gt, "~": lambda a, b: str(b).lower() in str(a).lower(),
}  # fmt: skip
_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$", re.S)
MAX_CLAUSES = 20


def spec_fields() -> set[str]:
    fields = {f for f in RunSpec.model_fields if f != "hparams"}
    fields |= {f"hparams.{f}" for model in PARAMS_BY_ALGORITHM.values() for f in model.model_fields}
    return fields


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any

    def matches(self, run: Run) -> bool:
        if self.field == "tag":
            tags = run.tags or []
            has = (
                any(OPS["~"](t, self.value) for t in tags) if self.op == "~" else self.value in tags
            )
            return (not has) if self.op == "!=" else has
        actual = _value_of(run, self.field)
        if self.op in ("=", "!=", "~"):
            if isinstance(actual, list) and self.op != "~":
                actual = ",".join(map(str, actual))
            if self.op == "~":
                return actual is not None and OPS["~"](actual, self.value)
            same = _same(actual, self.value)
            return same if self.op == "=" else not same
        if not _number(actual) or not _number(self.value):
            return False
        return OPS[self.op](actual, self.value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _same(actual: Any, wanted: Any) -> bool:
    if _number(actual) and _number(wanted):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.lower() == wanted.lower()
    return actual == wanted


def _value_of(run: Run, field: str) -> Any:
    if field == "status":
        return run.status
    if field == "name":
        return run.name
    if field in SUMMARY_FIELDS:
        return (run.summary or {}).get(field)
    return flatten_spec(run.spec).get(field)


def _parse_value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in lowered else number


def parse_where(where: str | None, field: str = "where") -> list[Clause]:
    """The clauses of ``where`` (empty for none), or ``InvalidInput`` naming the bad clause."""
    if not where or not where.strip():
        return []
    if "\x00" in where:
        raise InvalidInput([{"field": field, "message": "must not contain NUL characters"}])
    parts = re.split(r"\s+and\s+", where.strip(), flags=re.I)
    if len(parts) > MAX_CLAUSES:
        raise InvalidInput([{"field": field, "message": f"at most {MAX_CLAUSES} clauses"}])
    known = spec_fields() | set(SUMMARY_FIELDS) | set(OTHER_FIELDS)
    clauses = []
    for part in parts:
        match = _CLAUSE.match(part)
        if not match or not match.group(3):
            message = (
                f"{part[:80]!r} is not 'field op value' (ops: {' '.join(OPS)}); e.g. "
                "'hparams.threshold >= 0.9'"
            )
            raise InvalidInput([{"field": field, "message": message}])
        name, op, raw = match.groups()
        if name not in known:
            message = (
                f"unknown field {name!r} in {part[:80]!r}; use a spec field (e.g. lr, "
                f"hparams.threshold), a summary metric ({', '.join(SUMMARY_FIELDS)}), "
                f"{', '.join(OTHER_FIELDS)}"
            )
            raise InvalidInput([{"field": field, "message": message}])
        value = _parse_value(raw)
        if op in ("<", "<=", ">", ">=") and not _number(value):
            message = f"{op} needs a number in {part[:80]!r}"
            raise InvalidInput([{"field": field, "message": message}])
        if name == "tag" and op not in ("=", "!=", "~"):
            raise InvalidInput([{"field": field, "message": "tag takes =, != or ~"}])
        clauses.append(Clause(name, op, value))
    return clauses


def matches_all(run: Run, clauses: list[Clause]) -> bool:
    return all(clause.matches(run) for clause in clauses)


def parse_columns(columns: str | None, field: str = "columns") -> list[str]:
    """Extra table columns: spec fields and summary metrics, comma-separated, each known."""
    names = list(dict.fromkeys(c.strip() for c in (columns or "").split(",") if c.strip()))
    known = spec_fields() | set(SUMMARY_FIELDS)
    unknown = [n for n in names if n not in known]
    if unknown:
        message = (
            f"unknown column {unknown[0][:80]!r}; use spec fields (e.g. lr, hparams.threshold) "
            f"or summary metrics ({', '.join(SUMMARY_FIELDS)})"
        )
        raise InvalidInput([{"field": field, "message": message}])
    if len(names) > MAX_CLAUSES:
        raise InvalidInput([{"field": field, "message": f"at most {MAX_CLAUSES} columns"}])
    return names


def column_values(run: Run, columns: list[str]) -> dict[str, Any]:
    return {name: _value_of(run, name) for name in columns}


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers, then text, then missing values: one order for mixed columns."""
    if _number(value):
        return (0, value)
    if value is None:
        return (2, "")
    return (1, str(value).lower())

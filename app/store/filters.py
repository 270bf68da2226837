"""The run filter grammar, shared by the runs page and ``GET /api/runs?where=…``.

    where  := term ( " or " term )*
    term   := factor ( " and " factor )*
    factor := "(" where ")" | clause
    clause := field op value | field [not] in "(" value ( "," value )* ")"
    field  := a dotted spec field (``lr``, ``hparams.threshold``, ``weak_augment``), a summary
              metric (``test_top1_at_best_val``, ``best_val_top1``, ``last_test_top1``,
              ``best_epoch``), ``status``, ``name`` or ``tag``
    op     := = (or ==) | != | < | <= | > | >= | ~        (~: contains, case-insensitive)
    value  := a number, true, false, null, or text (quotes optional: 'a b' or "a b")

``and`` binds tighter than ``or``. Examples: ``hparams.threshold >= 0.9 and
test_top1_at_best_val > 90``, ``algorithm in (fixmatch, flexmatch) and (seed = 1 or tag =
ablation)``, ``name ~ lambda``. Numbers compare as numbers, text as text (case-insensitive),
booleans as booleans. A run without the field (another algorithm's hyperparameter, no summary
yet) matches no comparison, ``!=`` included; ``= null`` finds those runs. Errors name the clause
and what would be valid. ``app.store.filter_sql`` turns the parsed tree into SQL.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from app.store.errors import InvalidInput
from app.store.models import Run
from ssl_core.contract.spec import PARAMS_BY_ALGORITHM, RunSpec, flatten_spec
from ssl_core.contract.summary import BEST_EPOCH, STATISTICS

SUMMARY_FIELDS = (*STATISTICS, BEST_EPOCH)
WHERE_EXAMPLE = f"hparams.threshold >= 0.9 and {STATISTICS[0]} > 90"
COLUMNS_EXAMPLE = f"hparams.threshold,{STATISTICS[0]}"
OTHER_FIELDS = ("status", "name", "tag")
OPS = ("=", "!=", "<", "<=", ">", ">=", "~")
ORDERED = ("<", "<=", ">", ">=")
MAX_CLAUSES = 20
MAX_DEPTH = 8  # nested parentheses
MAX_LISTED_VALUES = 100  # in ( … )
_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|<=|>=|!=|=|<|>|~)|(?P<punct>[(),])|(?P<quoted>'[^']*'|\"[^\"]*\")"
    r"|(?P<word>[^\s(),'\"=<>!~]+)|(?P<bad>\S))"
)
_FIELD = re.compile(r"[A-Za-z_][\w.]*")
_VALID = (
    "clauses 'field op value' (ops: = != < <= > >= ~) or 'field in (a, b)', joined by and / or, "
    "grouped with ( ); e.g. 'hparams.threshold >= 0.9 and algorithm in (fixmatch, flexmatch)'"
)


def spec_fields() -> set[str]:
    fields = {f for f in RunSpec.model_fields if f != "hparams"}
    fields |= {f"hparams.{f}" for model in PARAMS_BY_ALGORITHM.values() for f in model.model_fields}
    return fields


def list_fields() -> set[str]:
    """Spec fields holding a list (``weak_augment``): compared by their comma-joined text."""
    return {n for n, f in RunSpec.model_fields.items() if get_origin(f.annotation) is list}


def _kinds(annotation: Any) -> set[str]:
    """What values a field holds: ``number``, ``text`` (lists: their comma-joined text), ``bool``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin is Literal:
        return set().union(*(_kinds(type(value)) for value in get_args(annotation)))
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        return set().union(*(_kinds(arg) for arg in get_args(annotation)))
    if origin is list or annotation is str:
        return {"text"}
    if annotation is bool:
        return {"bool"}
    if annotation in (int, float):
        return {"number"}
    return set()


@cache
def field_kinds() -> dict[str, frozenset[str]]:
    kinds: dict[str, set[str]] = {name: {"text"} for name in ("status", "name", "tag")}
    kinds.update({name: {"number"} for name in SUMMARY_FIELDS})
    for name, info in RunSpec.model_fields.items():
        if name != "hparams":
            kinds[name] = _kinds(info.annotation)
    for model in PARAMS_BY_ALGORITHM.values():
        for name, info in model.model_fields.items():
            kinds.setdefault(f"hparams.{name}", set()).update(_kinds(info.annotation))
    return {name: frozenset(found) for name, found in kinds.items()}


@dataclass(frozen=True)
class Clause:
    """``field op value``; for ``in`` / ``not in`` the value is a tuple of values."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Filter, ...]


Filter = Clause | AnyOf | AllOf


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_value(kind: str, text: str) -> Any:
    if kind == "quoted":
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
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in lowered else number


class _Parser:
    def __init__(self, where: str, field: str) -> None:
        self.where, self.field, self.clauses = where, field, 0
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(where):
            kind = match.lastgroup or "bad"
            if kind == "bad":
                self.fail(f"unexpected {match.group(kind)!r}; write {_VALID}")
            self.tokens.append((kind, match.group(kind)))
        self.at = 0
        self.known = spec_fields() | set(SUMMARY_FIELDS) | set(OTHER_FIELDS)

    def fail(self, message: str) -> None:
        raise InvalidInput([{"field": self.field, "message": message}])

    def peek(self, offset: int = 0) -> tuple[str, str]:
        at = self.at + offset
        return self.tokens[at] if at < len(self.tokens) else ("end", "")

    def keyword(self, word: str) -> bool:
        kind, text = self.peek()
        if kind == "word" and text.lower() == word:
            self.at += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        if self.peek() == ("punct", char):
            self.at += 1
            return True
        return False

    def near(self) -> str:
        rest = " ".join(text for _, text in self.tokens[self.at : self.at + 4])
        return f"at {rest[:60]!r}" if rest else "at the end"

    def parse(self) -> Filter:
        tree = self.any_of(0)
        if self.peek()[0] != "end":
            self.fail(f"unexpected {self.near()}; write {_VALID}")
        return tree

    def any_of(self, depth: int) -> Filter:
        parts = [self.all_of(depth)]
        while self.keyword("or"):
            parts.append(self.all_of(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def all_of(self, depth: int) -> Filter:
        parts = [self.factor(depth)]
        while self.keyword("and"):
            parts.append(self.factor(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def factor(self, depth: int) -> Filter:
        if self.punct("("):
            if depth >= MAX_DEPTH:
                self.fail(f"at most {MAX_DEPTH} levels of parentheses")
            inner = self.any_of(depth + 1)
            if not self.punct(")"):
                self.fail(f"missing ')' {self.near()}")
            return inner
        return self.clause()

    def clause(self) -> Clause:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            self.fail(f"at most {MAX_CLAUSES} clauses")
        kind, name = self.peek()
        if kind != "word" or not _FIELD.fullmatch(name):
            self.fail(f"expected a field {self.near()}; write {_VALID}")
        self.at += 1
        if name not in self.known:
            self.fail(
                f"unknown field {name[:80]!r}; use a spec field (e.g. lr, hparams.threshold), "
                f"a summary metric ({', '.join(SUMMARY_FIELDS)}), {', '.join(OTHER_FIELDS)}"
            )
        negated = self.keyword("not")
        if self.keyword("in"):
            return self.in_list(name, negated)
        kind, op = self.peek()
        if negated or kind != "op":
            self.fail(f"{name!r} needs an op or 'in (…)' {self.near()}; write {_VALID}")
        self.at += 1
        op = "=" if op == "==" else op
        value = self.value(name, op)
        if op in ORDERED and not _number(value):
            self.fail(f"{op} needs a number after {name!r}, not {value!r}")
        if op == "~" and value is None:
            self.fail(f"~ needs text after {name!r}; to find runs without it: {name} = null")
        if name == "tag" and op not in ("=", "!=", "~"):
            self.fail("tag takes =, !=, ~ or in (…)")
        return Clause(name, op, value)

    def value(self, name: str, op: str) -> Any:
        """One value: a quoted text, or bare words up to and/or/a comma/a parenthesis."""
        kind, text = self.peek()
        if kind == "quoted":
            self.at += 1
            return self.typed(name, _parse_value(kind, text), text[1:-1])
        words: list[str] = []
        while True:
            kind, text = self.peek()
            if kind != "word" or (words and text.lower() in ("and", "or")):
                break
            words.append(text)
            self.at += 1
        if not words:
            self.fail(
                f"{name} {op} needs a value (number, true, false, null, text); write {_VALID}"
            )
        raw = " ".join(words)
        return self.typed(name, _parse_value("word", raw), raw)

    def typed(self, name: str, value: Any, raw: str) -> Any:
        """``value`` as the field holds it: a number or boolean typed for a text field is that
        text (``name = 123``); text for a field without text is refused (``seed = abc``)."""
        kinds = field_kinds().get(name, frozenset())
        if value is None or not kinds:
            return value
        kind = "bool" if isinstance(value, bool) else "number" if _number(value) else "text"
        if kind in kinds:
            return value
        if "text" in kinds:
            return raw
        wanted = " or ".join(sorted(k if k != "bool" else "true/false" for k in kinds))
        self.fail(f"{name} needs a {wanted} (what it holds), not {raw[:80]!r}")
        return value

    def in_list(self, name: str, negated: bool) -> Clause:
        if not self.punct("("):
            self.fail(f"{name} in needs a list in parentheses: {name} in (a, b)")
        values = [self.value(name, "in")]
        while self.punct(","):
            values.append(self.value(name, "in"))
        if not self.punct(")"):
            self.fail(f"missing ')' after {name} in (… {self.near()}")
        if len(values) > MAX_LISTED_VALUES:
            self.fail(f"at most {MAX_LISTED_VALUES} values in (…)")
        return Clause(name, "not in" if negated else "in", tuple(values))


def parse_where(where: str | None, field: str = "where") -> Filter | None:
    """The filter tree of ``where`` (None for none), or ``InvalidInput`` naming the bad part."""
    if not where or not where.strip():
        return None
    if "\x00" in where:
        raise InvalidInput([{"field": field, "message": "must not contain NUL characters"}])
    return _Parser(where, field).parse()


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


def _value_of(run: Run, field: str) -> Any:
    if field in SUMMARY_FIELDS:
        return (run.summary or {}).get(field)
    return flatten_spec(run.spec).get(field)


def column_values(run: Run, columns: list[str]) -> dict[str, Any]:
    return {name: _value_of(run, name) for name in columns}


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers, then text, then missing values: one order for mixed columns."""
    if _number(value):
        return (0, value)
    if value is None:
        return (2, "")
    return (1, str(value).lower())

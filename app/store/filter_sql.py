"""The filter tree of ``app.store.filters`` (and sorting by a spec field or summary metric) as
SQL, on SQLite and PostgreSQL alike: the database matches, counts and sorts every run, so a
filter is exact however many runs there are.

``spec``, ``summary`` and ``tags`` are JSON columns: ``JsonField`` reads one value out of them
with each database's JSON functions (SQLite ``json_type`` / ``json_extract``, PostgreSQL
``json_typeof`` / ``#>`` / ``#>>``), typed, so numbers compare as numbers and text as text, and
a run whose value has another type or is missing matches no comparison.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Text, and_, case, cast, exists, false, func, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.store.filters import SUMMARY_FIELDS, AllOf, AnyOf, Clause, Filter, list_fields
from app.store.models import Run
from app.store.text import like_pattern

# Plain columns: the same value as the spec's (algorithm, dataset) or the run's own (name).
_COLUMNS: dict[str, Any] = {
    "status": Run.status,
    "name": Run.name,
    "algorithm": Run.algorithm,
    "dataset": Run.dataset,
}


class JsonField:
    """One field of a run as typed SQL expressions: ``number``, ``text`` (NULL unless the value
    has that type), ``present`` (there and not null) and ``words`` (its text, numbers and lists
    included, for ``~``)."""

    def __init__(self, dialect: str, field: str) -> None:
        self.pg = dialect == "postgresql"
        self.plain = _COLUMNS.get(field)
        self.is_list = field in list_fields()
        if self.plain is not None:
            return
        column = Run.summary if field in SUMMARY_FIELDS else Run.spec
        keys = field.split(".")
        if self.pg:
            node = column[tuple(keys)]
            self.kind = func.json_typeof(node)
            self.raw = column[tuple(keys)].as_string()
            self.node = node
            self.numeric, self.string = ("number",), "string"
        else:
            path = "$." + ".".join(f'"{key}"' for key in keys)
            self.kind = func.json_type(column, path)
            self.raw = func.json_extract(column, path)
            self.column, self.path = column, path
            self.numeric, self.string = ("integer", "real"), "text"

    def number(self) -> ColumnElement[Any]:
        if self.plain is not None:
            return cast(None, Float)
        value = cast(self.raw, Float) if self.pg else self.raw
        return case((self.kind.in_(self.numeric), value))

    def text(self) -> ColumnElement[Any]:
        if self.plain is not None:
            return self.plain
        if self.is_list:
            return self._joined()
        return case((self.kind == self.string, self.raw))

    def boolean(self, value: bool) -> ColumnElement[Any]:
        if self.plain is not None:
            return false()
        if self.pg:
            return and_(self.kind == "boolean", self.raw == ("true" if value else "false"))
        return self.kind == ("true" if value else "false")

    def present(self) -> ColumnElement[Any]:
        if self.plain is not None:
            return self.plain.is_not(None)
        return and_(self.kind.is_not(None), self.kind != "null")

    def words(self) -> ColumnElement[Any]:
        if self.plain is not None:
            return self.plain
        if self.is_list:
            return self._joined()
        shown = self.raw if self.pg else cast(self.raw, Text)
        return case((self.kind.in_((*self.numeric, self.string)), shown))

    def _joined(self) -> ColumnElement[Any]:
        """A list's items joined by commas (``crop,flip``), the way the grammar compares it."""
        if self.pg:
            items = func.json_array_elements_text(case((self.kind == "array", self.node)))
            each = items.table_valued("value")
            return select(func.string_agg(each.c.value, ",")).scalar_subquery()
        each = func.json_each(self.column, self.path).table_valued("value")
        return select(func.group_concat(each.c.value, ",")).scalar_subquery()


def _sure(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    """True or false, never NULL: ``not`` of a missing value's comparison must stay false."""
    return func.coalesce(condition, false())


def _equals(field: JsonField, value: Any) -> ColumnElement[Any]:
    if value is None:
        return not_(_sure(field.present()))
    if isinstance(value, bool):
        return _sure(field.boolean(value))
    if isinstance(value, (int, float)):
        # Stored floats went through JSON text: equal within a relative 1e-9, as 0.9 == 0.9.
        slack = max(abs(value) * 1e-9, 1e-12)
        return _sure(field.number().between(value - slack, value + slack))
    return _sure(func.lower(field.text()) == str(value).lower())


def _tags(dialect: str, match: Any) -> ColumnElement[Any]:
    """Some tag of the run satisfies ``match(tag_text)``."""
    if dialect == "postgresql":
        array = case((func.json_typeof(Run.tags) == "array", Run.tags))
        each = func.json_array_elements_text(array).table_valued("value")
    else:
        each = func.json_each(Run.tags).table_valued("value")
    return exists(select(each.c.value).where(match(each.c.value)))


def _tag_clause(dialect: str, op: str, value: Any) -> ColumnElement[Any]:
    if op == "~":
        return _tags(dialect, lambda t: func.lower(t).like(like_pattern(str(value)), escape="\\"))
    if value is None and op in ("=", "!="):  # tag = null: runs without any tag
        tagged = _tags(dialect, lambda t: t.is_not(None))
        return not_(tagged) if op == "=" else tagged
    values = value if op in ("in", "not in") else (value,)
    has = _tags(dialect, lambda t: t.in_([str(v) for v in values if v is not None]))
    return not_(has) if op in ("!=", "not in") else has


def _clause(dialect: str, clause: Clause) -> ColumnElement[Any]:
    op, value = clause.op, clause.value
    if clause.field == "tag":
        return _tag_clause(dialect, op, value)
    field = JsonField(dialect, clause.field)
    if op == "=":
        return _equals(field, value)
    if op == "in":
        return or_(*(_equals(field, v) for v in value))
    if op == "!=":
        return and_(_sure(field.present()), not_(_equals(field, value)))
    if op == "not in":
        return and_(_sure(field.present()), *(not_(_equals(field, v)) for v in value))
    if op == "~":
        pattern = like_pattern(str(value))
        return _sure(func.lower(field.words()).like(pattern, escape="\\"))
    number = field.number()
    compare = {"<": number < value, "<=": number <= value, ">": number > value}
    return _sure(compare.get(op, number >= value))


def where_sql(dialect: str, tree: Filter) -> ColumnElement[Any]:
    """The SQL condition of a parsed filter (``app.store.filters.parse_where``)."""
    if isinstance(tree, AnyOf):
        return or_(*(where_sql(dialect, part) for part in tree.parts))
    if isinstance(tree, AllOf):
        return and_(*(where_sql(dialect, part) for part in tree.parts))
    return _clause(dialect, tree)


def order_sql(dialect: str, field: str, descending: bool) -> list[ColumnElement[Any]]:
    """Sort by a spec field or summary metric: numbers, then text, then runs without it (last in
    either order), newest first among equals."""
    one = JsonField(dialect, field)
    number, text = one.number(), func.lower(one.text())
    rank = case((number.is_not(None), 0), (text.is_not(None), 1), else_=2)
    if descending:
        return [rank, number.desc(), text.desc(), Run.id.desc()]
    return [rank, number.asc(), text.asc(), Run.id.desc()]


__all__ = ["JsonField", "order_sql", "where_sql"]

"""What the migrations share: looking at what a database already has, and SQLite table rebuilds.

Databases made before matchlab had migrations are adopted at whatever they hold (see
``app.store.migrate``), and a database may have gained columns one by one from the ad-hoc
upgrades of those versions: every migration therefore checks before it changes anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateIndex, CreateTable

log = logging.getLogger("app.store.migrate")


def inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def has_table(name: str) -> bool:
    return inspector().has_table(name)


def columns(table: str) -> set[str]:
    return {c["name"] for c in inspector().get_columns(table)}


def add_columns(table: str, *new: sa.Column) -> None:
    """Add each column the table lacks (nullable ones: quick on every backend)."""
    present = columns(table)
    for column in new:
        if column.name not in present:
            op.add_column(table, column)


def create_index(name: str, table: str, cols: list[str], unique: bool = False) -> None:
    if name not in {i["name"] for i in inspector().get_indexes(table)}:
        op.create_index(name, table, cols, unique=unique)


def is_unique(table: str, cols: list[str]) -> bool:
    """Whether a unique constraint or unique index covers exactly these columns."""
    found = inspector()
    constraints = [c["column_names"] for c in found.get_unique_constraints(table)]
    indexes = [i["column_names"] for i in found.get_indexes(table) if i["unique"]]
    return any(list(names) == cols for names in constraints + indexes)


def clear_duplicate_keys(table: str, column: str) -> None:
    """Before a column becomes unique: the oldest row (lowest id) keeps each repeated value, the
    others get NULL there (every row stays; NULLs may repeat). Logged with the ids involved."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            f'SELECT "{column}", min(id), count(*) FROM "{table}" WHERE "{column}" IS NOT NULL '
            f'GROUP BY "{column}" HAVING count(*) > 1'
        )
    ).all()
    for value, keeper, count in rows:
        cleared = bind.execute(
            sa.text(
                f'UPDATE "{table}" SET "{column}" = NULL WHERE "{column}" = :value AND id <> :keep'
            ),
            {"value": value, "keep": keeper},
        ).rowcount
        log.warning(
            "%s.%s %r was on %d rows: kept on id %d (the oldest), cleared on the other %d",
            table, column, value, count, keeper, cleared,
        )  # fmt: skip


def fill_uids(table: str, column: str) -> None:
    """A fresh uuid4 hex on every row that has none."""
    bind = op.get_bind()
    ids = bind.execute(sa.text(f'SELECT id FROM "{table}" WHERE "{column}" IS NULL')).scalars()
    values = [{"id": row_id, "uid": uuid.uuid4().hex} for row_id in ids]
    if values:
        bind.execute(sa.text(f'UPDATE "{table}" SET "{column}" = :uid WHERE id = :id'), values)


def rebuild_sqlite_table(table: sa.Table, order_by: Iterable[str] = ()) -> None:
    """SQLite cannot add a constraint or a NOT NULL to a table in place: make ``table`` (its full
    definition at this revision) under a temporary name, copy every row, drop the old table and
    rename. The migration connection has foreign keys off, so dropping a table cascades nowhere;
    the AUTOINCREMENT counter is carried over, so ids of deleted rows are still never reused."""
    bind = op.get_bind()
    name = table.name
    temporary = table.to_metadata(table.metadata, name=f"_rebuild_{name}")
    shared = [c.name for c in table.columns if c.name in columns(name)]
    names = ", ".join(f'"{c}"' for c in shared)
    order = f" ORDER BY {', '.join(order_by)}" if order_by else ""
    sequence = _sqlite_sequence(name)
    bind.exec_driver_sql(str(CreateTable(temporary).compile(dialect=bind.dialect)))
    bind.exec_driver_sql(
        f'INSERT INTO "{temporary.name}" ({names}) SELECT {names} FROM "{name}"{order}'
    )
    bind.exec_driver_sql(f'DROP TABLE "{name}"')
    bind.exec_driver_sql(f'ALTER TABLE "{temporary.name}" RENAME TO "{name}"')
    table.metadata.remove(temporary)
    for index in table.indexes:
        bind.exec_driver_sql(str(CreateIndex(index).compile(dialect=bind.dialect)))
    if sequence is not None:
        bind.exec_driver_sql(
            "DELETE FROM sqlite_sequence WHERE name IN (?, ?)", (name, temporary.name)
        )
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
            (name, max(sequence, _max_id(name))),
        )


def _sqlite_sequence(name: str) -> int | None:
    bind = op.get_bind()
    master = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
    if bind.exec_driver_sql(master).scalar() is None:
        return None
    return bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).scalar()


def _max_id(name: str) -> int:
    return op.get_bind().exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{name}"').scalar()

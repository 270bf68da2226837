"""Sweeps store the ``Idempotency-Key`` of the request that made them, unique: a retried
``POST /api/sweeps`` finds the first sweep, and two racing ones cannot both make one.

Older matchlab versions added this column to existing databases without the unique constraint,
so such a database may hold several sweeps under one key: the oldest keeps it, the others keep
their runs and everything else but lose the key (logged), then the constraint is added.

Revision ID: 0005_sweep_idempotency_key
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import (
    add_columns,
    clear_duplicate_keys,
    columns,
    is_unique,
    rebuild_sqlite_table,
)

revision = "0005_sweep_idempotency_key"
down_revision = "0004_run_environment_tags"
branch_labels = None
depends_on = None


def sweeps() -> sa.Table:
    """The sweeps table at this revision (SQLite adds the constraint by rebuilding it)."""
    return sa.Table(
        "sweeps",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("base", sa.JSON, nullable=False),
        sa.Column("preset", sa.String),
        sa.Column("grid", sa.JSON, nullable=False),
        sa.Column("seeds", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("idempotency_key", sa.String(200), unique=True),
        sqlite_autoincrement=True,
    )


def upgrade() -> None:
    add_columns("sweeps", sa.Column("idempotency_key", sa.String(200)))
    if is_unique("sweeps", ["idempotency_key"]):
        return
    clear_duplicate_keys("sweeps", "idempotency_key")
    if op.get_bind().dialect.name == "sqlite":
        rebuild_sqlite_table(sweeps())
    else:  # the name PostgreSQL gives the same constraint written inline
        op.create_unique_constraint("sweeps_idempotency_key_key", "sweeps", ["idempotency_key"])


def applied() -> bool:
    return "idempotency_key" in columns("sweeps") and is_unique("sweeps", ["idempotency_key"])


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

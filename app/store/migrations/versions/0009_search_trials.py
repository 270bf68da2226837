"""Searches: a sweep's ``method`` (grid, random, tpe), its ``search`` settings and ``state``,
its trials (one row per configuration asked for, unique by sweep and number), and why a run
was stopped early (``runs.stop_reason``).

Revision ID: 0009_search_trials
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import add_columns, columns, create_index, has_table

revision = "0009_search_trials"
down_revision = "0008_run_uid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns(
        "sweeps",
        # Every sweep made before this is a grid.
        sa.Column("method", sa.String(20), nullable=False, server_default="grid"),
        sa.Column("search", sa.JSON),
        sa.Column("state", sa.String(20)),
    )
    if not has_table("trials"):
        op.create_table(
            "trials",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("sweep_id", sa.Integer, sa.ForeignKey("sweeps.id"), nullable=False),
            sa.Column("number", sa.Integer, nullable=False),
            sa.Column("params", sa.JSON, nullable=False),
            sa.Column("run_ids", sa.JSON, nullable=False),
            sa.Column("state", sa.String, nullable=False),
            sa.Column("objective", sa.Float),
            sa.Column("reason", sa.Text),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
        )
    create_index("ux_trials_sweep_number", "trials", ["sweep_id", "number"], unique=True)
    add_columns("runs", sa.Column("stop_reason", sa.Text))


def applied() -> bool:
    return (
        {"method", "search", "state"} <= columns("sweeps")
        and has_table("trials")
        and "stop_reason" in columns("runs")
    )


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

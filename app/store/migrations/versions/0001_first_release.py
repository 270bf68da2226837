"""The first release's tables: sweeps, runs and their metric points (one row id per point).

Revision ID: 0001_first_release
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import create_index, has_table

revision = "0001_first_release"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_table("sweeps"):
        op.create_table(
            "sweeps",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String, nullable=False),
            sa.Column("base", sa.JSON, nullable=False),
            sa.Column("preset", sa.String),
            sa.Column("grid", sa.JSON, nullable=False),
            sa.Column("seeds", sa.JSON, nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sqlite_autoincrement=True,
        )
    if not has_table("runs"):
        op.create_table(
            "runs",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String, nullable=False),
            sa.Column("status", sa.String, nullable=False),
            sa.Column("algorithm", sa.String, nullable=False),
            sa.Column("dataset", sa.String, nullable=False),
            sa.Column("spec", sa.JSON, nullable=False),
            sa.Column("sweep_id", sa.Integer, sa.ForeignKey("sweeps.id")),
            sa.Column("retry_of", sa.Integer),
            sa.Column("epoch", sa.Integer, nullable=False),
            sa.Column("step", sa.Integer, nullable=False),
            sa.Column("total_steps", sa.Integer, nullable=False),
            sa.Column("summary", sa.JSON),
            sa.Column("error", sa.Text),
            sa.Column("cancel_requested", sa.Boolean, nullable=False),
            sa.Column("recoveries", sa.Integer, nullable=False),
            sa.Column("worker", sa.String),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("started_at", sa.DateTime),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("heartbeat_at", sa.DateTime),
            sa.Column("clock_at", sa.DateTime),
            sa.Column("clock_step", sa.Integer, nullable=False),
            sqlite_autoincrement=True,
        )
    create_index("ix_runs_status_created", "runs", ["status", "created_at"])
    for column in ("status", "algorithm", "dataset", "sweep_id"):
        create_index(f"ix_runs_{column}", "runs", [column])
    if not has_table("metric_points"):
        op.create_table(
            "metric_points",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "run_id",
                sa.Integer,
                sa.ForeignKey("runs.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("key", sa.String, nullable=False),
            sa.Column("epoch", sa.Integer, nullable=False),
            sa.Column("step", sa.Integer, nullable=False),
            sa.Column("wall_time", sa.Float, nullable=False),
            sa.Column("value", sa.Float, nullable=False),
            sa.UniqueConstraint("run_id", "key", "epoch", name="uq_point_run_key_epoch"),
        )


def applied() -> bool:
    return has_table("runs") and has_table("metric_points") and has_table("sweeps")


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

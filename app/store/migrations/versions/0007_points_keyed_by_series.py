"""Metric points keyed by (run, key, epoch) instead of a row id plus a unique constraint; on
SQLite stored ``WITHOUT ROWID``, clustered by series, so a compare reads each series as one
range of the table (BENCHMARKS.md). Every point is kept; SQLite copies them in series order.

Revision ID: 0007_points_keyed_by_series
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import columns, log, rebuild_sqlite_table

revision = "0007_points_keyed_by_series"
down_revision = "0006_run_slot_device"
branch_labels = None
depends_on = None


def metric_points() -> sa.Table:
    metadata = sa.MetaData()
    sa.Table("runs", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table(
        "metric_points",
        metadata,
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("epoch", sa.Integer, primary_key=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("wall_time", sa.Float, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    if "id" not in columns("metric_points"):
        return
    if op.get_bind().dialect.name == "sqlite":
        count = op.get_bind().exec_driver_sql("SELECT count(*) FROM metric_points").scalar()
        if count:
            log.warning("rebuilding metric_points (%d points) keyed by series", count)
        rebuild_sqlite_table(metric_points(), order_by=["run_id", '"key"', "epoch"])
        return
    # The unique constraint becomes the primary key; the id column (and its sequence) goes.
    op.drop_constraint("uq_point_run_key_epoch", "metric_points", type_="unique")
    op.drop_column("metric_points", "id")
    op.create_primary_key("metric_points_pkey", "metric_points", ["run_id", "key", "epoch"])


def applied() -> bool:
    return "id" not in columns("metric_points")


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

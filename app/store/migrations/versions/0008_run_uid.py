"""Every run gets an identity that is never reused (``uid``, a uuid4 hex): ids may start again
at 1 when the database is new but ``MATCHLAB_HOME`` is not, uids never. Existing runs get a
fresh uid each.

Revision ID: 0008_run_uid
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import (
    add_columns,
    columns,
    create_index,
    fill_uids,
    inspector,
    rebuild_sqlite_table,
)

revision = "0008_run_uid"
down_revision = "0007_points_keyed_by_series"
branch_labels = None
depends_on = None


def runs() -> sa.Table:
    """The runs table at this revision (SQLite makes ``uid`` NOT NULL by rebuilding it)."""
    metadata = sa.MetaData()
    sa.Table("sweeps", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table(
        "runs",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False, index=True),
        sa.Column("algorithm", sa.String, nullable=False, index=True),
        sa.Column("dataset", sa.String, nullable=False, index=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("sweep_id", sa.Integer, sa.ForeignKey("sweeps.id"), index=True),
        sa.Column("retry_of", sa.Integer),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("total_steps", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("recoveries", sa.Integer, nullable=False),
        sa.Column("worker", sa.String),
        sa.Column("slot", sa.Integer),
        sa.Column("device", sa.String),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("heartbeat_at", sa.DateTime),
        sa.Column("clock_at", sa.DateTime),
        sa.Column("clock_step", sa.Integer, nullable=False),
        sa.Column("enqueued_at", sa.DateTime),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("environment", sa.JSON),
        sa.Column("tags", sa.JSON),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Index("ix_runs_status_created", "status", "created_at"),
        sa.Index("ux_runs_idempotency_key", "idempotency_key", unique=True),
        sa.Index("ix_runs_uid", "uid", unique=True),
        sqlite_autoincrement=True,
    )


def _uid_nullable() -> bool:
    return next(c for c in inspector().get_columns("runs") if c["name"] == "uid")["nullable"]


def upgrade() -> None:
    add_columns("runs", sa.Column("uid", sa.String(32)))
    fill_uids("runs", "uid")
    if _uid_nullable():
        if op.get_bind().dialect.name == "sqlite":
            rebuild_sqlite_table(runs())  # also makes the indexes
        else:
            op.alter_column("runs", "uid", existing_type=sa.String(32), nullable=False)
    create_index("ix_runs_uid", "runs", ["uid"], unique=True)


def applied() -> bool:
    return "uid" in columns("runs") and not _uid_nullable()


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

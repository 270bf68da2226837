"""Runs remember when their queue message was sent (``enqueued_at``, for the watchdog) and the
``Idempotency-Key`` of the submission that made them (unique: a retry finds the first run).

Revision ID: 0002_run_requeue_idempotency
"""

from __future__ import annotations

import sqlalchemy as sa

from app.store.migrations.schema import (
    add_columns,
    clear_duplicate_keys,
    columns,
    create_index,
    is_unique,
)

revision = "0002_run_requeue_idempotency"
down_revision = "0001_first_release"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns(
        "runs",
        sa.Column("enqueued_at", sa.DateTime),
        sa.Column("idempotency_key", sa.String(200)),
    )
    if not is_unique("runs", ["idempotency_key"]):
        clear_duplicate_keys("runs", "idempotency_key")
    create_index("ux_runs_idempotency_key", "runs", ["idempotency_key"], unique=True)


def applied() -> bool:
    return {"enqueued_at", "idempotency_key"} <= columns("runs") and is_unique(
        "runs", ["idempotency_key"]
    )


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

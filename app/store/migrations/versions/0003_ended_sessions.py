"""Logins ended by /logout (``ended_sessions``): their cookies stop counting.

Revision ID: 0003_ended_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.migrations.schema import has_table

revision = "0003_ended_sessions"
down_revision = "0002_run_requeue_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_table("ended_sessions"):
        op.create_table(
            "ended_sessions",
            sa.Column("nonce", sa.String(64), primary_key=True),
            sa.Column("ended_at", sa.DateTime, nullable=False),
        )


def applied() -> bool:
    return has_table("ended_sessions")


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

"""Runs record what produced them (``environment``) and carry ``tags``.

Revision ID: 0004_run_environment_tags
"""

from __future__ import annotations

import sqlalchemy as sa

from app.store.migrations.schema import add_columns, columns

revision = "0004_run_environment_tags"
down_revision = "0003_ended_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns("runs", sa.Column("environment", sa.JSON), sa.Column("tags", sa.JSON))


def applied() -> bool:
    return {"environment", "tags"} <= columns("runs")


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

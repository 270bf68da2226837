"""Runs show where they train: the worker's ``slot`` and the torch ``device``.

Revision ID: 0006_run_slot_device
"""

from __future__ import annotations

import sqlalchemy as sa

from app.store.migrations.schema import add_columns, columns

revision = "0006_run_slot_device"
down_revision = "0005_sweep_idempotency_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_columns("runs", sa.Column("slot", sa.Integer), sa.Column("device", sa.String))


def applied() -> bool:
    return {"slot", "device"} <= columns("runs")


def downgrade() -> None:
    raise NotImplementedError("matchlab migrations go forward only: restore a backup instead")

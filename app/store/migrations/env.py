"""Alembic's entry point, configured by ``app.store.migrate``: it hands over one connection that
already holds the migration lock and an open transaction, so every migration of one upgrade
commits together or not at all.

A new migration: copy the newest file in ``versions/``, set ``revision`` to the next number and
``down_revision`` to the one before, and make ``upgrade`` check what the database already has
(databases made before migrations carry columns and tables in many combinations).
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import app.store.models  # noqa: F401  (registers the tables: the target of autogenerate)


def run() -> None:
    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=SQLModel.metadata,
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # run by Alembic (a plain import, as the import checks do: not)
    run()

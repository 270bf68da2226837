"""Alembic migrations of matchlab's tables (``app.store.migrate`` runs them; no alembic.ini)."""

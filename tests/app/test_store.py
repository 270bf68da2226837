"""The store: SQLite connection settings, and the same operations on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app import crud
from app.config import Settings
from app.db import make_engine
from app.models import MetricPoint, Status
from worker.runner import claim_run

PG_URL = os.environ.get("MATCHLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def test_sqlite_uses_wal_busy_timeout_and_foreign_keys(engine):
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_default_database_lives_under_home_and_postgres_urls_use_psycopg(tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path}/matchlab.db"
    # docker-compose passes unset variables as empty strings: still the default.
    assert Settings(home=tmp_path, database_url="").db_url == settings.db_url
    pg = Settings(home=tmp_path, database_url="postgresql://u@h:5432/db")
    assert pg.db_url == "postgresql+psycopg://u@h:5432/db"


def exercise_store(engine, runs_dir: Path) -> None:
    """Create, claim once, store points (one per key and epoch), cascade on delete."""
    with Session(engine) as session:
        run = crud.create_run(session, {"algorithm": "flexmatch", "epochs": 2})
        run_id = run.id
    assert claim_run(engine, run_id, "a") is not None
    assert claim_run(engine, run_id, "b") is None  # the duplicate does nothing
    with Session(engine) as session:
        session.add(
            MetricPoint(run_id=run_id, key="val/top1", epoch=1, step=1, wall_time=1, value=2)
        )
        session.commit()
        session.add(
            MetricPoint(run_id=run_id, key="val/top1", epoch=1, step=1, wall_time=1, value=3)
        )
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        assert crud.load_points(session, [run_id])[run_id]["val/top1"]["value"] == [2.0]
        run = crud.runs_by_ids(session, [run_id])[0]
        assert run.status == Status.running and run.heartbeat_at.tzinfo is not None
        page, total = crud.list_runs(session, algorithm=["flexmatch"], text="FLEX")
        assert total == 1 and page[0].id == run_id
        run.status = Status.failed
        session.commit()
        crud.delete_run(session, run, runs_dir)
        assert crud.load_points(session, [run_id])[run_id] == {}


def test_sqlite_store(engine, tmp_path):
    exercise_store(engine, tmp_path)


def test_postgres_store(tmp_path):
    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    schema = f"matchlab_test_{uuid.uuid4().hex[:12]}"  # other test runs may share the database
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://")
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_schema()")).scalar() == schema
        exercise_store(engine, tmp_path)
    finally:
        engine.dispose()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")

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

from app.config import Settings
from app.store import crud, points
from app.store.db import make_engine
from app.store.models import MetricPoint, Status
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
        assert points.load_points(session, [run_id])[run_id]["val/top1"]["value"] == [2.0]
        run = crud.runs_by_ids(session, [run_id])[0]
        assert run.status == Status.running and run.heartbeat_at.tzinfo is not None
        page, total = crud.list_runs(session, algorithm=["flexmatch"], text="FLEX")
        assert total == 1 and page[0].id == run_id
        run.status = Status.failed
        session.commit()
        crud.delete_run(session, run, runs_dir)
        assert points.load_points(session, [run_id])[run_id] == {}


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


def test_a_database_from_an_older_matchlab_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    # The runs table as the first release made it: no enqueued_at, no idempotency_key.
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR NOT NULL, "
            "status VARCHAR NOT NULL, algorithm VARCHAR NOT NULL, dataset VARCHAR NOT NULL, "
            "spec JSON NOT NULL, sweep_id INTEGER, retry_of INTEGER, epoch INTEGER NOT NULL, "
            "step INTEGER NOT NULL, total_steps INTEGER NOT NULL, summary JSON, error TEXT, "
            "cancel_requested BOOLEAN NOT NULL, recoveries INTEGER NOT NULL, worker VARCHAR, "
            "created_at DATETIME NOT NULL, started_at DATETIME, finished_at DATETIME, "
            "heartbeat_at DATETIME, clock_at DATETIME, clock_step INTEGER NOT NULL)"
        )
        db.execute(
            "INSERT INTO runs (name, status, algorithm, dataset, spec, epoch, step, total_steps, "
            "cancel_requested, recoveries, created_at, clock_step) VALUES ('old', 'succeeded', "
            "'fixmatch', 'digits', '{}', 3, 30, 30, 0, 0, '2024-01-01 00:00:00', 0)"
        )
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        old = crud.runs_by_ids(session, [1])[0]
        assert old.name == "old" and old.idempotency_key is None and old.enqueued_at is None
        run, created = crud.submit_run(session, {"algorithm": "fixmatch"}, idempotency_key="k")
        again, created_again = crud.submit_run(session, {"algorithm": "fixmatch"}, None, "k")
        assert created and not created_again and again.id == run.id
    with engine.connect() as connection:
        indexes = connection.exec_driver_sql("PRAGMA index_list(runs)").fetchall()
    assert any(row[1] == "ux_runs_idempotency_key" and row[2] == 1 for row in indexes)
    engine.dispose()


OLD_POINTS_TABLE = (
    # metric_points as matchlab made it before the clustered layout: an id rowid and a unique index
    'CREATE TABLE metric_points (id INTEGER NOT NULL, run_id INTEGER NOT NULL, "key" VARCHAR NOT '
    "NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL, wall_time FLOAT NOT NULL, value FLOAT "
    'NOT NULL, PRIMARY KEY (id), CONSTRAINT uq_point_run_key_epoch UNIQUE (run_id, "key", epoch), '
    "FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE)"
)


def test_an_older_points_table_is_rebuilt_clustered_keeping_every_point(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)  # today's tables, then the points table swapped for the old one
    with Session(engine) as session:
        assert crud.create_run(session, {"algorithm": "fixmatch"}).id == 1
    engine.dispose()
    with sqlite3.connect(path) as db:  # as matchlab left it before it had migrations
        db.execute("DROP TABLE alembic_version")
        db.execute("DROP TABLE metric_points")
        db.execute(OLD_POINTS_TABLE)
        # Rows in the order a worker writes them (epoch by epoch), not in series order.
        db.executemany(
            "INSERT INTO metric_points (run_id, key, epoch, step, wall_time, value) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            [(k, e, 10 * e, 1000.5 + e, e / 7) for e in (3, 1, 2) for k in ("val/top1", "a")],
        )
    engine = make_engine(url)
    with engine.connect() as connection:
        columns = [r[1] for r in connection.exec_driver_sql("PRAGMA table_info(metric_points)")]
        ddl = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'metric_points'"
        ).scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_key_list(metric_points)").all()
    assert columns == ["run_id", "key", "epoch", "step", "wall_time", "value"]
    assert "WITHOUT ROWID" in ddl and [row[2] for row in foreign_keys] == ["runs"]
    with Session(engine) as session:
        series = points.load_points(session, [1])[1]
        assert sorted(series) == ["a", "val/top1"]
        assert series["val/top1"] == {
            "epoch": [1, 2, 3],
            "step": [10, 20, 30],
            "wall_time": [1001.5, 1002.5, 1003.5],
            "value": [1 / 7, 2 / 7, 3 / 7],
        }
        with pytest.raises(IntegrityError):  # (run, key, epoch) is still unique
            session.exec(
                text(
                    "INSERT INTO metric_points (run_id, key, epoch, step, wall_time, value) "
                    "VALUES (1, 'a', 1, 0, 0, 0)"
                )
            )
        session.rollback()
        crud.delete_run(session, crud.runs_by_ids(session, [1])[0], tmp_path)
        assert session.exec(text("SELECT count(*) FROM metric_points")).one()[0] == 0
    engine.dispose()
    make_engine(url).dispose()  # already clustered: nothing to do

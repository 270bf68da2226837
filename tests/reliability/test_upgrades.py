"""Upgrades are migrations: databases made by older commits (SQLite and PostgreSQL) reach
today's schema keeping every run and point, a unique key holds afterwards, two processes never
migrate at once, and a database newer than the code is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.config import Settings
from app.main import create_app
from app.store import crud
from app.store.db import _engines, make_engine
from app.store.migrate import DatabaseTooNew, current_revision, head
from tests.reliability.upgrade_support import BACKENDS, MANIFEST, empty_database, old_database

FIXTURES = sorted(MANIFEST)
CASES = [(name, backend) for name in FIXTURES for backend in BACKENDS]


def schema_facts(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys, indexes and constraints as the database reports them."""
    facts: dict[str, Any] = {}
    with engine.connect() as connection:
        found = inspect(connection)
        for table in sorted(found.get_table_names()):
            facts[table] = {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)
                ),
                "primary key": sorted(found.get_pk_constraint(table)["constrained_columns"]),
                "foreign keys": sorted(
                    (f["constrained_columns"], f["referred_table"], f["options"].get("ondelete"))
                    for f in found.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], i["column_names"], bool(i["unique"]))
                    for i in found.get_indexes(table)
                ),
                "unique": sorted(u["column_names"] for u in found.get_unique_constraints(table)),
            }
        if engine.dialect.name == "sqlite":  # what inspection does not show
            for name, sql in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            ):
                if name in facts:
                    facts[name]["without rowid"] = "WITHOUT ROWID" in sql
                    facts[name]["autoincrement"] = "AUTOINCREMENT" in sql
    return facts


def fresh_schema(backend: str, tmp_path: Path) -> dict[str, Any]:
    with empty_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            return schema_facts(engine)
        finally:
            engine.dispose()


def check_everything_kept(engine: Engine, recorded: dict[str, Any]) -> None:
    with engine.connect() as connection:
        points = [
            list(row)
            for row in connection.execute(
                text(
                    'SELECT run_id, "key", epoch, step, wall_time, value FROM metric_points '
                    'ORDER BY run_id, "key", epoch'
                )
            )
        ]
        names = ", ".join(recorded["runs"][0])
        runs = [dict(r._mapping) for r in connection.execute(text(f"SELECT {names} FROM runs"))]
        uids = connection.execute(text("SELECT uid FROM runs")).scalars().all()
        sweeps = connection.execute(text("SELECT id, name, idempotency_key FROM sweeps")).all()
    assert points == recorded["points"]  # every point, every value to the last bit
    for run in runs:
        if isinstance(run.get("tags"), str):  # SQLite's JSON comes back as text
            run["tags"] = json.loads(run["tags"])
    assert sorted(runs, key=lambda r: r["id"]) == recorded["runs"]
    assert len(set(uids)) == len(uids) == len(runs)
    assert all(len(uid) == 32 and int(uid, 16) >= 0 for uid in uids)
    # Sweeps are all kept; of several under one key (allowed before the constraint) the
    # oldest keeps the key.
    assert [(s["id"], s["name"]) for s in recorded["sweeps"]] == [(i, n) for i, n, _ in sweeps]
    seen: set[str] = set()
    for (sweep_id, _, key), old in zip(sweeps, recorded["sweeps"], strict=True):
        old_key = old.get("idempotency_key")
        assert key == (None if old_key in seen else old_key), sweep_id
        seen.add(old_key)


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_an_older_database_upgrades_keeping_every_run_and_point(name, backend, tmp_path, caplog):
    recorded = MANIFEST[name][backend]
    with old_database(name, backend, tmp_path) as url:
        engine = make_engine(url)  # what the web server and the workers do when they start
        try:
            assert current_revision(engine) == head()
            check_everything_kept(engine, recorded)
            keys = [s.get("idempotency_key") for s in recorded["sweeps"]]
            for key in {k for k in keys if k is not None and keys.count(k) > 1}:
                oldest = min(s["id"] for s in recorded["sweeps"] if s["idempotency_key"] == key)
                said = f"sweeps.idempotency_key {key!r} was on {keys.count(key)} rows: kept on id"
                assert f"{said} {oldest}" in caplog.text  # never silently
            with engine.connect() as connection:
                assert (
                    compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
                    == []
                )
            facts = schema_facts(engine)
            assert facts == fresh_schema(backend, tmp_path)
            with Session(engine) as session:  # ids of deleted runs are never handed out again
                run = crud.create_run(session, {"algorithm": "fixmatch"})
                assert run.id > recorded["highest_id_used"] and len(run.uid) == 32
        finally:
            engine.dispose()
        engine = make_engine(url)  # opening it again changes nothing
        assert schema_facts(engine) == facts
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["round2_tags", "first_release_then_main"])
def test_ten_concurrent_sweeps_with_one_key_make_one_after_an_upgrade(
    name, backend, tmp_path, redis_url
):
    body = {"name": "race", "base": {"algorithm": "fixmatch", "epochs": 2}, "grid": {"lr": [0.1]}}
    with old_database(name, backend, tmp_path) as url:
        settings = Settings(
            home=tmp_path / "home", redis_url=redis_url, database_url=url, api_token=None
        )
        start = threading.Barrier(10)

        def post(_: int) -> tuple[int, int]:
            start.wait(timeout=30)
            response = client.post("/api/sweeps", json=body, headers={"Idempotency-Key": "race"})
            return response.status_code, response.json()["id"]

        try:
            with TestClient(create_app(settings, pages=False)) as client:
                with ThreadPoolExecutor(10) as pool:
                    answers = list(pool.map(post, range(10)))
            with _engines[settings.db_url].connect() as connection:
                made = connection.execute(
                    text("SELECT count(*) FROM sweeps WHERE name = 'race'")
                ).scalar()
        finally:
            engine = _engines.pop(settings.db_url, None)
            if engine is not None:
                engine.dispose()
    assert made == 1
    # (A request that lost the race to the key answers with the winner's sweep.)
    assert {code for code, _ in answers} <= {200, 201} and len({i for _, i in answers}) == 1


def matchlab(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MATCHLAB_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "matchlab.cli", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_starting_together_migrate_once(backend, tmp_path):
    name = "first_release_then_main"
    with old_database(name, backend, tmp_path) as url:
        env = {**os.environ, "MATCHLAB_DATABASE_URL": url}
        command = [sys.executable, "-m", "matchlab.cli", "db", "upgrade"]
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        said = b"".join(out for out, _ in outputs).decode()
        assert said.count("upgraded from no version to") == 1 and "already at" in said
        engine = make_engine(url, migrate=False)
        try:
            check_everything_kept(engine, MANIFEST[name][backend])
            assert matchlab(url, "db", "current").stdout.endswith(f"{head()} (the newest)\n")
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_newer_than_the_code_is_refused(backend, tmp_path):
    with empty_database(backend, tmp_path) as url:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0999_future'"))
        before = schema_facts(engine)
        engine.dispose()
        with pytest.raises(DatabaseTooNew, match="revision '0999_future'.*newer matchlab"):
            make_engine(url)
        for args in (("db", "upgrade"), ("db", "current"), ("web", "--port", "1")):
            result = matchlab(url, *args)
            assert result.returncode != 0, args
            assert "'0999_future'" in result.stderr and "newer matchlab" in result.stderr, args
        engine = make_engine(url, migrate=False)
        assert schema_facts(engine) == before  # nothing was changed
        engine.dispose()

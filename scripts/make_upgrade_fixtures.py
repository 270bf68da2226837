"""Make the upgrade tests' databases with older matchlab commits' own code.

For each commit in FIXTURES it extracts that commit (``git archive``) and runs its store code
with this virtual environment (PYTHONPATH = the extracted tree) to make a SQLite file and a
PostgreSQL database holding sweeps, runs in several states, metric points, tags, idempotency
keys and an ended login, as far as that commit knows them. It saves the SQLite file (gzip) and a
plain-SQL dump of the PostgreSQL database (``pg_dump --inserts``) under tests/fixtures/upgrade/,
and ``manifest.json``: every run, sweep and point as each database held them, which the tests
compare with the upgraded databases.

    python scripts/make_upgrade_fixtures.py        # needs PostgreSQL (MATCHLAB_TEST_POSTGRES)
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "upgrade"
PG_URL = os.environ.get("MATCHLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

# name -> the commits whose code writes to the database, in order (a later one opens the
# database the earlier made, as an upgrade of those days did).
FIXTURES: dict[str, list[str]] = {
    # The first release: runs, metric points (a row id each), sweeps.
    "first_release": ["40612dd"],
    # Mid round 2: tags, environment, ended logins; sweeps without an Idempotency-Key column.
    "round2_tags": ["44a4d8f"],
    # The last before the points table was keyed by series; sweep keys unique from the start.
    "before_points_rebuild": ["2305506"],
    # The first release's database, later used by the newest code before migrations: its
    # columns were added one by one, without the unique sweep key, so it holds a repeated key.
    "first_release_then_main": ["40612dd", "fab4ad7"],
    # The newest code before migrations.
    "main_before_migrations": ["fab4ad7"],
}

# Runs inside the old commit's tree: only names every version has, checked where they differ.
WRITER = r"""
import os, sys
from sqlmodel import Session
if os.path.isdir("app/store"):  # the layout since app/ was grouped by role
    from app.store import crud, db, models
    from app.domain import sweeps
else:
    from app import crud, db, models, sweeps
for module in (crud, db, models, sweeps):  # never this checkout's code (an editable install)
    assert module.__file__.startswith(os.getcwd()), module.__file__
url, step = sys.argv[1], int(sys.argv[2])
engine = db.make_engine(url)
fields = models.Run.model_fields
with Session(engine) as session:
    keyed = "idempotency_key" in models.Sweep.model_fields
    extra = {"idempotency_key": f"sweep-key-{step}"} if keyed else {}
    sweep, runs = sweeps.create_sweep(
        session, {"algorithm": "fixmatch", "epochs": 4}, {"lr": [0.03, 0.01]}, seeds=[step],
        name=f"lr sweep {step}", **extra,
    )
    if step == 1 and keyed:  # what an upgrade without the unique constraint allowed
        for _ in range(2):
            sweeps.create_sweep(
                session, {"algorithm": "fixmatch", "epochs": 4}, {"lr": [0.1]}, seeds=[0],
                name="repeated key", idempotency_key="repeated-key",
            )
    single = crud.create_run(session, {"algorithm": "mixmatch", "name": f"single {step}"})
    doomed = crud.create_run(session, {"algorithm": "supervised", "name": "deleted"})
    runs = [*runs, single]
    for index, run in enumerate(runs):
        run.status = ("succeeded", "failed", "queued")[index % 3]
        run.epoch, run.step = 4 - index, 40 - 10 * index
        if run.status == "succeeded":
            run.summary = {"best_val_top1": 81.5 + step, "test_top1": 80.25}
        if run.status == "failed":
            run.error = "out of memory: lower batch_size"
        if "tags" in fields:
            run.tags = ["fixture", f"step{step}"]
        if "environment" in fields:
            run.environment = {"python": "3.11", "host": "fixture"}
        if "idempotency_key" in fields and run is single:
            run.idempotency_key = f"run-key-{step}"
        session.add(run)
        for k, key in enumerate(("train/loss", "val/top1", "test/top1")):
            for epoch in range(1, 5 - index):
                session.add(models.MetricPoint(
                    run_id=run.id, key=key, epoch=epoch, step=10 * epoch,
                    wall_time=1.7e9 + run.id * 100 + epoch + 0.25,
                    value=run.id / 10 + epoch / 7 + k / 13,
                ))
    session.commit()
    session.delete(doomed)  # the highest id so far, gone: ids must never be handed out again
    session.commit()
    if hasattr(models, "EndedSession"):
        session.add(models.EndedSession(nonce=f"nonce-{step}"))
        session.commit()
engine.dispose()
"""


def extract(commit: str, into: Path) -> Path:
    tree = into / commit
    if not tree.exists():
        archive = subprocess.run(
            ["git", "archive", commit, "app", "ssl_core"], cwd=ROOT, check=True,
            capture_output=True,
        ).stdout  # fmt: skip
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
    return tree


def run_commit(tree: Path, url: str, step: int, home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "MATCHLAB_HOME": str(home)}
    subprocess.run([sys.executable, "-c", WRITER, url, str(step)], cwd=tree, env=env, check=True)


def record(url: str) -> dict[str, Any]:
    """Every sweep, run and point as the old code left them (plain SQL: any version)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        run_columns = {c["name"] for c in inspector.get_columns("runs")}
        wanted = ["id", "name", "status", "algorithm", "epoch", "step", "sweep_id", "error"]
        wanted += [c for c in ("tags", "idempotency_key") if c in run_columns]
        runs = [dict(r._mapping) for r in connection.execute(
            sa.text(f"SELECT {', '.join(wanted)} FROM runs ORDER BY id")
        )]  # fmt: skip
        for run in runs:
            if isinstance(run.get("tags"), str):
                run["tags"] = json.loads(run["tags"])
        sweep_columns = {c["name"] for c in inspector.get_columns("sweeps")}
        sweep_wanted = ["id", "name"] + (["idempotency_key"] * ("idempotency_key" in sweep_columns))
        sweeps = [dict(r._mapping) for r in connection.execute(
            sa.text(f"SELECT {', '.join(sweep_wanted)} FROM sweeps ORDER BY id")
        )]  # fmt: skip
        points = [list(r) for r in connection.execute(sa.text(
            'SELECT run_id, "key", epoch, step, wall_time, value FROM metric_points '
            'ORDER BY run_id, "key", epoch'
        ))]  # fmt: skip
        if connection.dialect.name == "sqlite":
            query = "SELECT seq FROM sqlite_sequence WHERE name = 'runs'"
        else:
            query = "SELECT last_value FROM runs_id_seq"
        highest_id = connection.execute(sa.text(query)).scalar()
    engine.dispose()
    return {"runs": runs, "sweeps": sweeps, "points": points, "highest_id_used": highest_id}


def make_sqlite(name: str, commits: list[str], trees: Path, work: Path) -> dict[str, Any]:
    path = work / f"{name}.db"
    for step, commit in enumerate(commits):
        run_commit(extract(commit, trees), f"sqlite:///{path}", step, work / "home")
    with sqlite3.connect(path) as db:  # one self-contained file: no WAL beside it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    with sqlite3.connect(path) as db:
        db.execute("VACUUM")
    manifest = record(f"sqlite:///{path}")
    with gzip.GzipFile(OUT / f"{name}.sqlite.gz", "wb", mtime=0) as out:
        out.write(path.read_bytes())
    return manifest


def make_postgres(name: str, commits: list[str], trees: Path, work: Path) -> dict[str, Any]:
    import psycopg

    database = f"matchlab_fixture_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    base = PG_URL.rsplit("/", 1)[0]
    url = f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://")
    try:
        for step, commit in enumerate(commits):
            run_commit(extract(commit, trees), url, step, work / "home")
        manifest = record(url)
        dump = subprocess.run(
            ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "--no-comments",
             f"{base}/{database}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        # psql before 15.14 does not know \\restrict (a guard against hostile dumps): drop it.
        lines = [
            line
            for line in dump.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict"))
        ]
        (OUT / f"{name}.postgres.sql").write_text("\n".join(lines) + "\n")
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {database}")
    return manifest


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees, work = Path(tmp) / "trees", Path(tmp) / "work"
        work.mkdir(parents=True)
        for name, commits in FIXTURES.items():
            manifest[name] = {
                "commits": commits,
                "sqlite": make_sqlite(name, commits, trees, work),
                "postgres": make_postgres(name, commits, trees, work),
            }
            print(f"{name}: {commits} -> {len(manifest[name]['sqlite']['points'])} points")
        shutil.rmtree(work, ignore_errors=True)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

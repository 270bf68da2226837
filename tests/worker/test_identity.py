"""A new run never inherits another run's checkpoint, whatever happened to the database.

Run ids start again at 1 in a new database while MATCHLAB_HOME keeps the older runs' files: after
``matchlab.db`` is deleted, an older backup restored, or a move to another database. Each case
trains for real (``run_training`` with ``ssl_core.train``) and checks that the new run trained
its own epochs from its own spec, and left the older run's files as they were.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
import torch
from sqlmodel import Session, select

from app.config import Settings
from app.store import crud
from app.store.db import _engines, get_engine
from app.store.models import MetricPoint, Run, Status
from app.store.run_files import run_dir
from ssl_core import train
from worker.runner import run_training

TINY = {"algorithm": "fixmatch", "epochs": 2, "iters_per_epoch": 2, "batch_size": 8,
        "eval_batch_size": 256, "device": "cpu"}  # fmt: skip
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def train_run(settings: Settings, **spec) -> Run:
    """Submit a run to ``settings``' database and train it there; the finished row."""
    engine = get_engine(settings)
    with Session(engine) as session:
        run_id = crud.create_run(session, {**TINY, **spec}).id
    run_training(run_id, settings=settings)
    with Session(engine) as session:
        return session.get(Run, run_id)


def trained_epochs(settings: Settings, run_id: int) -> list[int]:
    with Session(get_engine(settings)) as session:
        points = session.exec(
            select(MetricPoint.epoch).where(
                MetricPoint.run_id == run_id, MetricPoint.key == "val/top1"
            )
        ).all()
    return sorted(points)


def close_database(settings: Settings) -> None:
    engine = _engines.pop(settings.db_url, None)
    if engine is not None:
        engine.dispose()


def delete_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def checkpoint(folder: Path) -> dict:
    return torch.load(folder / "checkpoint.pt", weights_only=True)


def assert_trained_itself(settings: Settings, run: Run, old: Run) -> None:
    """``run`` trained every epoch of its own spec; ``old``'s checkpoint is untouched."""
    assert run.status == Status.succeeded, run.error
    assert trained_epochs(settings, run.id) == [1, 2]  # not 0 epochs on top of another's state
    assert run.summary["seconds"] > 0 and run.step == run.total_steps
    assert run.uid != old.uid
    mine = checkpoint(run_dir(settings.runs_dir, run))
    assert mine["uid"] == run.uid and mine["spec"]["seed"] == run.spec["seed"]
    theirs = checkpoint(settings.runs_dir / old.uid)
    assert theirs["uid"] == old.uid and theirs["spec"]["seed"] == old.spec["seed"]


def test_a_deleted_database_does_not_hand_run_1_the_old_run_1s_checkpoint(settings):
    old = train_run(settings, seed=3, num_labels=40)
    close_database(settings)
    delete_sqlite(settings.home / "matchlab.db")  # MATCHLAB_HOME and its runs/ stay
    new = train_run(settings, seed=42, num_labels=100)
    assert new.id == old.id == 1
    assert_trained_itself(settings, new, old)


def test_a_restored_older_backup_does_not_reuse_newer_runs_files(settings):
    train_run(settings, seed=1)
    database = settings.home / "matchlab.db"
    backup = settings.home / "backup.db"
    with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    newer = train_run(settings, seed=2)  # run 2 exists only after the backup was taken
    close_database(settings)
    delete_sqlite(database)
    shutil.copy(backup, database)
    new = train_run(settings, seed=5, num_labels=100)
    assert new.id == newer.id == 2
    assert_trained_itself(settings, new, newer)


@pytest.fixture
def postgres_url() -> str:
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    name = f"matchlab_identity_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_move_to_a_new_database_keeps_runs_apart(settings, postgres_url):
    old = train_run(settings, seed=3, num_labels=40)  # on SQLite
    moved = settings.model_copy(update={"database_url": postgres_url})
    try:
        new = train_run(moved, seed=42, num_labels=100)  # on a fresh PostgreSQL, same home
        assert new.id == old.id == 1
        assert_trained_itself(moved, new, old)
    finally:
        close_database(moved)


def queue_run(settings: Settings, **spec) -> Run:
    with Session(get_engine(settings)) as session:
        return crud.create_run(session, {**TINY, **spec})


def error_of(settings: Settings, run_id: int) -> str:
    with Session(get_engine(settings)) as session:
        return session.get(Run, run_id).error


def test_a_folder_copied_in_from_another_run_fails_the_run_and_is_left_alone(settings):
    old = train_run(settings, seed=3, num_labels=40)
    new = queue_run(settings, seed=42, num_labels=100)
    folder = settings.runs_dir / new.uid
    shutil.copytree(settings.runs_dir / old.uid, folder)  # e.g. restored by hand
    before = (folder / "checkpoint.pt").read_bytes()
    assert run_training(new.id, settings=settings) == Status.failed
    error = error_of(settings, new.id)
    assert f"belongs to run {old.uid} (seed 3, 40 labels), not this run" in error, error
    assert (folder / "checkpoint.pt").read_bytes() == before
    assert (folder / "run.json").read_text() == (
        settings.runs_dir / old.uid / "run.json"
    ).read_text()


def test_a_checkpoint_without_its_identity_file_still_names_its_run(settings):
    old = train_run(settings, seed=3, num_labels=40)
    new = queue_run(settings, seed=42, num_labels=100)
    folder = settings.runs_dir / new.uid
    shutil.copytree(settings.runs_dir / old.uid, folder)
    (folder / "run.json").unlink()
    assert run_training(new.id, settings=settings) == Status.failed
    error = error_of(settings, new.id)
    assert error.startswith("CheckpointMismatch: checkpoint in "), error
    assert f"belongs to run {old.uid} (fixmatch digits, seed 3, 40 labels), not this run" in error
    assert checkpoint(folder)["uid"] == old.uid  # not overwritten


def test_a_run_never_adopts_the_folder_older_code_made_for_its_id(settings):
    queued = queue_run(settings, seed=3)
    legacy = settings.runs_dir / str(queued.id)  # runs/<id>/ as older matchlab wrote it
    train({**TINY, "seed": 3}, legacy)  # the same spec, no identity in its checkpoint
    before = {p.name: p.read_bytes() for p in legacy.iterdir()}
    assert run_training(queued.id, settings=settings) == Status.succeeded
    assert trained_epochs(settings, queued.id) == [1, 2]  # trained, not resumed
    with Session(get_engine(settings)) as session:
        run = session.get(Run, queued.id)
    assert checkpoint(settings.runs_dir / run.uid)["uid"] == run.uid
    assert {p.name: p.read_bytes() for p in legacy.iterdir()} == before

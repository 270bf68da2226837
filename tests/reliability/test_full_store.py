"""A full disk or a read-only store: clear 507/503 answers that change nothing, deletes that
still free space, health that says the store cannot be written, no temp files left behind,
and a run's failure recorded as "disk full: …".

A full disk is made real where it can be: writes to /dev/full fail with ENOSPC from the
kernel, and SQLite's ``max_page_count`` makes the database refuse to grow exactly as a full
disk does ("database or disk is full"). A read-only database is opened with SQLite's
``mode=ro`` (this suite runs as root, which ignores file permissions)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from app.store.db import get_engine
from app.store.errors import storage_problem
from app.store.models import Status
from ssl_core.checkpoint import save_checkpoint
from tests.app.conftest import set_run
from tests.conftest import run_folder
from worker.runner import describe_error


def fill_database(engine) -> None:
    """From now on the database cannot grow by a single page (new connections too)."""

    def no_room(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(engine, "connect", no_room)
    engine.dispose()  # pooled connections reconnect through the listener


def test_a_failed_checkpoint_write_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": torch.tensor(1)})
    (tmp_path / "checkpoint.pt.tmp").symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(OSError) as full:
        save_checkpoint(path, {"step": torch.tensor(2), "big": torch.zeros(100_000)})
    assert full.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert torch.load(path, weights_only=True)["step"].item() == 1  # the last good one stays


def test_a_disk_full_failure_reads_disk_full():
    assert storage_problem(OSError(errno.ENOSPC, "No space left on device")) == "disk full"
    head = describe_error(OSError(errno.ENOSPC, "No space left on device")).splitlines()[0]
    assert head.startswith("disk full: ")
    assert storage_problem(ValueError("no")) is None


def test_a_full_database_answers_507_and_changes_nothing(settings: Settings):
    with TestClient(create_app(settings, pages=False)) as client:
        kept = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
        # Enough rows that a new one needs a new page.
        for i in range(30):
            client.post("/api/runs", json={"algorithm": "fixmatch", "notes": "x" * 3000 + str(i)})
        total = client.get("/api/runs").json()["total"]
        fill_database(client.app.state.engine)  # the web server's own engine
        refused = client.post("/api/runs", json={"algorithm": "fixmatch", "notes": "y" * 4000})
        assert refused.status_code == 507, refused.text
        assert refused.json()["detail"].startswith("disk full: ")
        sweep = {"name": "s", "base": {"algorithm": "fixmatch"}, "grid": {"seed": [1, 2]}}
        assert client.post("/api/sweeps", json=sweep).status_code in (507, 422)
        assert client.get("/api/runs").json()["total"] == total  # nothing half-written
        # Deleting still works on a full store: it is how space comes back.
        set_run(get_engine(settings), kept, status=Status.failed)
        run_dir = run_folder(settings, kept)
        run_dir.mkdir(parents=True)
        (run_dir / "checkpoint.pt").write_bytes(b"\0" * 1024)
        assert client.delete(f"/api/runs/{kept}").status_code == 204
        assert not run_dir.exists()


def test_a_read_only_database_fails_health_and_answers_503(settings: Settings, tmp_path: Path):
    with TestClient(create_app(settings, pages=False)) as client:  # creates the tables
        assert client.get("/api/health").json()["store"]["ok"] is True
    database = settings.home / "matchlab.db"
    read_only = settings.model_copy(
        update={"database_url": f"sqlite:///file:{database}?mode=ro&uri=true"}
    )
    with TestClient(create_app(read_only, pages=False)) as client:
        health = client.get("/api/health")
        assert health.status_code == 503
        store = health.json()["store"]
        assert store["ok"] is False and "read-only" in store["error"]
        refused = client.post("/api/runs", json={"algorithm": "fixmatch"})
        assert refused.status_code == 503 and refused.json()["detail"].startswith("read-only: ")
        assert client.get("/api/runs").status_code == 200  # reading still works

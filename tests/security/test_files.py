"""Files: checkpoints never run code when loaded, and no path from a request or a spec leads
outside MATCHLAB_HOME and the data folder."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.main import create_app
from app.store.db import get_engine
from app.store.models import Run, Status
from app.store.run_files import run_dir
from ssl_core.checkpoint import load_checkpoint
from tests.conftest import run_folder
from worker.runner import run_training

TINY = {
    "algorithm": "fixmatch", "epochs": 2, "iters_per_epoch": 2, "batch_size": 8, "uratio": 1,
    "eval_batch_size": 256, "device": "cpu",
}  # fmt: skip


class Payload:
    """Unpickling this calls os.mkdir(marker): the kind of code a crafted checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.mkdir, (str(self.marker),)


def poisoned_checkpoint(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "step": 1, "epoch": 1, "extra": Payload(marker)}, path)
    return path


def test_a_crafted_checkpoint_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "code-ran"
    path = poisoned_checkpoint(tmp_path / "checkpoint.pt", marker)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_checkpoint(path, torch.device("cpu"))
    assert not marker.exists()
    # The payload is real: a plain torch.load would have run it.
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_a_worker_resuming_from_a_crafted_checkpoint_fails_the_run_and_runs_nothing(
    settings: Settings, tmp_path
):
    engine = get_engine(settings)
    with Session(engine) as session:
        run = Run(name="resumed", algorithm="fixmatch", dataset="digits", spec=TINY)
        session.add(run)
        session.commit()
        run_id = run.id
    marker = tmp_path / "code-ran"
    poisoned_checkpoint(run_folder(settings, run_id) / "checkpoint.pt", marker)
    assert run_training(run_id, settings=settings) == Status.failed
    with Session(engine) as session:
        error = session.get(Run, run_id).error
    assert error.startswith("UnpicklingError: Weights only load failed"), error
    assert not marker.exists()


def test_a_spec_path_never_reaches_the_file_system(settings: Settings):
    # Written straight into the database (no API in between): the worker checks it again.
    engine = get_engine(settings)
    with Session(engine) as session:
        run = Run(
            name="x",
            algorithm="fixmatch",
            dataset="../../etc",
            spec={**TINY, "dataset": "../../etc"},
        )
        session.add(run)
        session.commit()
        run_id = run.id
    assert run_training(run_id, settings=settings) == Status.failed
    with Session(engine) as session:
        assert "dataset: must be one of" in session.get(Run, run_id).error
    assert not (settings.home.parent / "etc").exists()
    with pytest.raises(ValueError):
        run_dir(settings.runs_dir, Run(id=1, uid="../../elsewhere", name="x", spec=TINY,
                                       algorithm="fixmatch", dataset="digits"))  # fmt: skip


def test_request_paths_stay_inside_home_and_static(settings: Settings):
    victim = settings.home / "keep-me.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("not yours")
    with TestClient(create_app(settings)) as client:
        for url in [
            "/static/../config.py", "/static/..%2Fconfig.py", "/static/%2e%2e%2fmain.py",
            "/static/..%2F..%2Fpyproject.toml", "/static/%2Fetc%2Fpasswd",
        ]:  # fmt: skip
            response = client.get(url)
            assert response.status_code == 404, url
            assert "import" not in response.text and "root:" not in response.text
        for url in ["/api/runs/..%2F..%2Fkeep-me.txt/metrics.csv", "/api/runs/%2e%2e/metrics.csv"]:
            assert client.get(url).status_code in (404, 422), url
        # A run named like a path is only a name: deleting it removes runs/<id> and no more.
        made = client.post("/api/runs", json={**TINY, "name": "../../keep-me.txt"}).json()
        client.post(f"/api/runs/{made['id']}/cancel")
        assert client.delete(f"/api/runs/{made['id']}").status_code == 204
    assert victim.read_text() == "not yours"

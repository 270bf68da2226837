"""A run's files are under ``runs/<uid>/``; a finished run from before identities keeps its
downloads from ``runs/<id>/`` only when that folder holds its spec and no other run's identity."""

from __future__ import annotations

import json

from app.store.models import Status
from tests.app.conftest import set_run


def legacy_folder(settings, run: dict, spec: dict) -> None:
    folder = settings.runs_dir / str(run["id"])
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps(spec))
    (folder / "checkpoint.pt").write_bytes(b"legacy")


def test_the_run_json_has_a_uid_and_files_live_under_it(client, settings):
    first = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()
    second = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()
    assert len(first["uid"]) == 32 and first["uid"] != second["uid"]
    assert client.get(f"/api/runs/{first['id']}").json()["uid"] == first["uid"]
    folder = settings.runs_dir / first["uid"]
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"mine")
    assert client.get(f"/api/runs/{first['id']}/checkpoint").content == b"mine"
    assert client.get(f"/api/runs/{second['id']}/checkpoint").status_code == 404


def test_a_finished_legacy_run_keeps_its_downloads(client, engine, settings):
    run = client.post("/api/runs", json={"algorithm": "fixmatch", "seed": 3}).json()
    set_run(engine, run["id"], status=Status.succeeded)
    # Written by older code: stored specs may lack fields added since, and names change.
    older_spec = {k: v for k, v in run["spec"].items() if k != "compile"} | {"name": "old name"}
    legacy_folder(settings, run, older_spec)
    assert client.get(f"/api/runs/{run['id']}/checkpoint").content == b"legacy"
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert not (settings.runs_dir / str(run["id"])).exists()


def test_a_legacy_folder_of_another_spec_or_run_is_never_used(client, engine, settings):
    other = client.post("/api/runs", json={"algorithm": "fixmatch", "seed": 3}).json()
    set_run(engine, other["id"], status=Status.succeeded)
    legacy_folder(settings, other, {**other["spec"], "seed": 4})  # another run's, same id
    assert client.get(f"/api/runs/{other['id']}/checkpoint").status_code == 404
    assert client.delete(f"/api/runs/{other['id']}").status_code == 204
    assert (settings.runs_dir / str(other["id"]) / "checkpoint.pt").exists()  # not deleted

    stamped = client.post("/api/runs", json={"algorithm": "fixmatch", "seed": 3}).json()
    set_run(engine, stamped["id"], status=Status.succeeded)
    legacy_folder(settings, stamped, stamped["spec"])
    (settings.runs_dir / str(stamped["id"]) / "run.json").write_text('{"uid": "someone else"}')
    assert client.get(f"/api/runs/{stamped['id']}/checkpoint").status_code == 404

    queued = client.post("/api/runs", json={"algorithm": "fixmatch", "seed": 3}).json()
    legacy_folder(settings, queued, queued["spec"])  # a new run never adopts a legacy folder
    assert client.get(f"/api/runs/{queued['id']}/checkpoint").status_code == 404

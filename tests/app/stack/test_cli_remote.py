"""``matchlab status``, ``runs …``, ``sync`` and the resume and import routes, against a real
server over HTTP (no worker: rows are set the way a worker leaves them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from app.client import Client
from matchlab.cli import main
from ssl_core.contract.summary import (
    BEST_EPOCH,
    BEST_TEST_TOP1,
    BEST_VAL_TOP1,
    FIELDS,
    LAST_TEST_TOP1,
    TEST_TOP1_AT_BEST_VAL,
)
from tests.app.conftest import add_points, set_run
from tests.app.stack.test_cli import server_url  # noqa: F401 (the fixture)

HEAVY = ("torch", "celery", "sqlalchemy", "fastapi")


def folder_of(settings, engine, run_id: int):
    """Where a worker trains and resumes the run."""
    from sqlmodel import Session

    from app.store.models import Run
    from app.store.run_files import own_dir

    with Session(engine) as session:
        return own_dir(settings.runs_dir, session.get(Run, run_id))


def test_client_commands_load_no_heavy_library():
    code = (
        "import sys\nfrom matchlab.cli import build_parser\n"
        "build_parser().parse_args(['runs', 'list'])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_shows_defaults():
    def help_of(*args: str) -> str:
        command = [sys.executable, "-m", "matchlab.cli", *args, "--help"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    assert "(default: 20, or the preset's)" in " ".join(help_of("train").split())
    assert "(default: 50)" in help_of("runs", "list")
    assert "(default: last)" in help_of("runs", "download")
    assert "(default: 8000)" in help_of("web")


def _finished(engine, lab: Client, **spec) -> int:
    run_id = lab.submit({"algorithm": "fixmatch", "epochs": 3, **spec})["id"]
    add_points(engine, run_id, "val/top1", [50.0, 70.0, 60.0])
    add_points(engine, run_id, "test/top1", [51.0, 71.5, 61.0])
    summary = {BEST_VAL_TOP1: 70.0, TEST_TOP1_AT_BEST_VAL: 71.5, LAST_TEST_TOP1: 61.0,
               BEST_TEST_TOP1: 71.5, BEST_EPOCH: 2}  # fmt: skip
    assert set(summary) == {f.key for f in FIELDS}
    set_run(engine, run_id, status="succeeded", epoch=3, step=90, summary=summary)
    return run_id


def test_runs_list_is_a_table_with_the_pages_headings(server_url, engine, capsys):  # noqa: F811
    with Client(server_url) as lab:
        done = _finished(engine, lab, name="good one")
        lab.submit({"algorithm": "mixmatch", "name": "waiting"})
    assert main(["runs", "list", "--url", server_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [f.heading for f in FIELDS if f.listed]
    assert lines[0].split("  ")[0] == "id" and all(h in lines[0] for h in listed)
    assert lines[1].split()[:2] == ["2", "waiting"] and " — " in lines[1]
    assert lines[2].split()[:3] == [str(done), "good", "one"] and "3/3 · 100 %" in lines[2]
    assert lines[2].split()[-2:] == ["70.0", "71.5"]

    assert main(["runs", "list", "--url", server_url, "--status", "queued", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in page["items"]] == ["waiting"]

    Client(server_url).http.patch(f"/api/runs/{done}", json={"tags": ["baseline", "v2"]})
    argv = ["runs", "list", "--url", server_url, "--tag", "baseline", "--tag", "v2"]
    assert main([*argv, "--where", "best_val_top1>=70"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split()[:2] == [str(done), "good"]


def test_show_cancel_resume_and_download(server_url, engine, settings, tmp_path, capsys):  # noqa: F811
    with Client(server_url) as lab:
        run_id = _finished(engine, lab)
        folder = folder_of(settings, engine, run_id)
        folder.mkdir(parents=True)
        (folder / "checkpoint.pt").write_bytes(b"state " * 1000)
        assert main(["runs", "show", str(run_id), "--url", server_url]) == 0
        out = capsys.readouterr().out
        assert "status     succeeded" in out and "test top-1 at best val   71.5 %" in out
        assert (
            "checkpoint last  6.0 kB: matchlab runs download" in out
            and "checkpoint best  none" in out
        )

        target = tmp_path / "got.pt"
        assert main(["runs", "download", str(run_id), "-o", str(target), "--url", server_url]) == 0
        assert target.read_bytes() == b"state " * 1000
        assert main(["runs", "download", str(run_id), "--which", "best", "-o", str(target),
                     "--url", server_url]) == 2  # fmt: skip
        assert "has no best checkpoint" in capsys.readouterr().err
        assert target.read_bytes() == b"state " * 1000  # a refusal leaves the file alone

        # Succeeded: nothing to resume.
        assert main(["runs", "resume", str(run_id), "--url", server_url]) == 2
        assert "only a cancelled, failed or pruned run can be resumed" in capsys.readouterr().err

        queued = lab.submit({"algorithm": "fixmatch"})["id"]
        assert main(["runs", "cancel", str(queued), "--url", server_url]) == 0
        assert capsys.readouterr().out == f"run {queued} cancelled\n"
        assert main(["runs", "resume", str(queued), "--url", server_url]) == 2
        assert "has no checkpoint to resume from" in capsys.readouterr().err

        set_run(engine, run_id, status="failed", error="boom", cancel_requested=True)
        assert main(["runs", "resume", str(run_id), "--url", server_url]) == 0
        assert capsys.readouterr().out.startswith(f"run {run_id} queued: continues after epoch 3")
        run = lab.get(run_id)
        assert run["status"] == "queued" and run["error"] is None and not run["cancel_requested"]
        assert lab.metrics(run_id)["val/top1"]["value"] == [50.0, 70.0, 60.0]  # kept


def test_status_says_what_the_server_has(server_url, capsys):  # noqa: F811
    with Client(server_url) as lab:
        lab.submit({"algorithm": "fixmatch"})
    assert main(["status", "--url", server_url]) == 0
    out = capsys.readouterr().out
    assert f"server    {server_url}: ok" in out and "redis     ok   queue 1" in out
    assert "workers   0 (queued runs wait for one)" in out
    assert "runs      queued 1 · running 0 · succeeded 0 · failed 0 · cancelled 0" in out
    assert main(["status", "--url", server_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"]["queued"] == 1


def _folder(tmp_path, epochs: int = 2, lines: list[dict] | None = None):
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    spec = {"algorithm": "fixmatch", "epochs": epochs, "iters_per_epoch": 3, "seed": 4}
    (folder / "spec.json").write_text(json.dumps(spec))
    rows = lines or [{"epoch": e, "step": 3 * e, "val/top1": 40.0 + e, "test/top1": 41.0 + e,
                      "train/imgs_per_s": 100.0 + e} for e in range(1, epochs + 1)]  # fmt: skip
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_sync_refuses_incomplete_or_broken_folders(server_url, tmp_path, capsys):  # noqa: F811
    folder = _folder(tmp_path)
    (folder / "metrics.jsonl").unlink()
    assert main(["sync", str(folder), "--url", server_url]) == 2
    assert f"{folder} has no metrics.jsonl" in capsys.readouterr().err

    _folder(tmp_path, lines=[{"epoch": 1, "step": 3, "val/top1": 1.0}, {"epoch": 3, "step": 9}])
    assert main(["sync", str(folder), "--url", server_url]) == 2
    assert "metrics.jsonl: metrics.jsonl line 2: epoch 3, expected 2" in capsys.readouterr().err
    _folder(tmp_path, lines=[{"epoch": 1, "step": 3, "val/top1": "high"}])
    assert main(["sync", str(folder), "--url", server_url]) == 2
    assert "val/top1 = 'high' is not a finite number" in capsys.readouterr().err
    assert Client(server_url).runs()["total"] == 0


def test_sync_twice_is_one_run_and_more_epochs_update_it(server_url, tmp_path):  # noqa: F811
    folder = _folder(tmp_path, epochs=3, lines=[
        {"epoch": 1, "step": 3, "val/top1": 40.0, "test/top1": 42.0, "train/imgs_per_s": 99.0}
    ])  # fmt: skip
    with Client(server_url) as lab:
        first = lab.import_folder(folder)
        assert first["status"] == "cancelled" and first["epoch"] == 1  # stopped early
        assert lab.import_folder(folder)["id"] == first["id"]
        # Another training into the same folder (its first epoch differs): another run.
        rows = [{"epoch": e, "step": 3 * e, "val/top1": 40.0 + e, "train/imgs_per_s": 100.0}
                for e in (1, 2)]  # fmt: skip
        _folder(tmp_path, epochs=3, lines=rows)
        other = lab.import_folder(folder)
        assert other["id"] != first["id"] and other["status"] == "cancelled"
        with open(folder / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"epoch": 3, "step": 9, "val/top1": 50.0, "test/top1": 1.0}) + "\n")
        updated = lab.import_folder(folder)
        assert updated["id"] == other["id"] and updated["status"] == "succeeded"
        assert updated["summary"]["best_val_top1"] == 50.0 and updated["summary"]["best_epoch"] == 3
        assert lab.metrics(other["id"])["val/top1"]["epoch"] == [1, 2, 3]
        assert lab.runs()["total"] == 2


def test_the_progress_bar_shows_the_mask_in_percent_as_the_pages_do():
    from ssl_core.cli import shown_value
    from ssl_core.contract.metrics import MASK_RATIO, TRAIN_LOSS, VAL_TOP1

    assert shown_value(MASK_RATIO, 0.734) == "73.4%"
    assert shown_value(VAL_TOP1, 91.25) == "91.2%"
    assert shown_value(TRAIN_LOSS, 0.123456) == "0.123"


def test_no_server_is_one_line_for_the_new_commands():
    env = {**os.environ, "MATCHLAB_URL": "http://127.0.0.1:9"}
    for args in (["status"], ["runs", "list"], ["runs", "show", "1"]):
        result = subprocess.run([sys.executable, "-m", "matchlab.cli", *args],
                                capture_output=True, text=True, env=env)  # fmt: skip
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "no matchlab server answers at http://127.0.0.1:9" in result.stderr


def test_the_run_page_offers_resume_only_where_it_applies(settings, engine):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as pages:
        run_id = pages.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
        button = f'action="/runs/{run_id}/resume"'
        assert button not in pages.get(f"/runs/{run_id}").text  # queued
        pages.post(f"/api/runs/{run_id}/cancel")
        assert button not in pages.get(f"/runs/{run_id}").text  # cancelled, no checkpoint
        assert pages.post(f"/runs/{run_id}/resume").status_code == 409
        folder_of(settings, engine, run_id).mkdir(parents=True)
        (folder_of(settings, engine, run_id) / "checkpoint.pt").write_bytes(b"x")
        assert button in pages.get(f"/runs/{run_id}").text
        resumed = pages.post(f"/runs/{run_id}/resume", follow_redirects=False)
        assert resumed.status_code == 303 and resumed.headers["location"] == f"/runs/{run_id}"
        assert pages.get(f"/api/runs/{run_id}").json()["status"] == "queued"
        assert button not in pages.get(f"/runs/{run_id}").text


def test_an_import_may_carry_a_checkpoint_larger_than_other_bodies(settings, engine, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app

    folder = _folder(tmp_path)
    (folder / "checkpoint.pt").write_bytes(b"w" * (settings.max_body_bytes + 10))
    limited = settings.model_copy(update={"max_import_bytes": 4 * settings.max_body_bytes})
    with TestClient(create_app(limited, pages=False)) as api:
        lab = Client("http://testserver", transport=api._transport)
        run = lab.import_folder(folder)
        stored = folder_of(settings, engine, run["id"]) / "checkpoint.pt"
        assert stored.read_bytes() == (folder / "checkpoint.pt").read_bytes()
        too_big = api.post("/api/runs/import", content=b"x" * (limited.max_import_bytes + 10))
        assert too_big.status_code == 413
        assert (
            api.post("/api/runs", content=b"x" * (settings.max_body_bytes + 10)).status_code == 413
        )


def test_the_folders_own_uid_becomes_the_runs(server_url, tmp_path, capsys):  # noqa: F811
    folder = _folder(tmp_path)
    uid = "ab" * 16
    (folder / "run.json").write_text(json.dumps({"uid": uid}))
    with Client(server_url) as lab:
        run = lab.import_folder(folder)
        assert run["uid"] == uid and lab.import_folder(folder)["id"] == run["id"]
        (folder / "run.json").write_text(json.dumps({"uid": "../../etc"}))
    assert main(["sync", str(folder), "--url", server_url]) == 2
    assert "run.json: uid '../../etc' is not 32 hex digits" in capsys.readouterr().err

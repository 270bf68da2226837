"""A run's files and record on its page and through the API: checkpoints (last, best EMA),
metrics.jsonl, the environment, "clone and edit", environment differences on compare."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import set_run
from tests.conftest import run_folder

ENV = {"torch": "2.14.1", "device_name": "NVIDIA H200", "precision": "bf16", "git_commit": "a" * 40,
       "git_dirty": False, "host": "box", "worker": "w@box", "dataset_sha256": "f" * 64}  # fmt: skip


@pytest.fixture
def pages(settings):
    with TestClient(create_app(settings)) as client:
        yield client


def test_checkpoints_and_metrics_jsonl_download(pages, settings):
    run_id = pages.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    assert pages.get(f"/api/runs/{run_id}/checkpoint").status_code == 404
    run_dir = run_folder(settings, run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.pt").write_bytes(b"last")
    (run_dir / "best.pt").write_bytes(b"best")
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1}\n')
    last = pages.get(f"/api/runs/{run_id}/checkpoint")
    assert (
        last.content == b"last"
        and f"run{run_id}-checkpoint.pt" in last.headers["content-disposition"]
    )
    assert pages.get(f"/api/runs/{run_id}/checkpoint?which=best").content == b"best"
    assert pages.get(f"/api/runs/{run_id}/checkpoint?which=worst").status_code == 422
    assert pages.get(f"/api/runs/{run_id}/metrics.jsonl").text == '{"epoch": 1}\n'
    html = pages.get(f"/runs/{run_id}").text
    assert f"/api/runs/{run_id}/checkpoint?which=best" in html and "metrics.jsonl" in html


def test_checkpoints_need_the_token_like_the_api(settings):
    with TestClient(create_app(settings.model_copy(update={"api_token": "t"}))) as client:
        headers = {"Authorization": "Bearer t"}
        run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=headers).json()[
            "id"
        ]
        run_folder(settings, run_id).mkdir(parents=True)
        (run_folder(settings, run_id) / "checkpoint.pt").write_bytes(b"x")
        assert client.get(f"/api/runs/{run_id}/checkpoint").status_code == 401
        assert client.get(f"/api/runs/{run_id}/checkpoint", headers=headers).content == b"x"


def test_clone_and_edit_fills_the_form_with_the_runs_spec(pages):
    spec = {"algorithm": "mixmatch", "dataset": "digits", "lr": 0.01, "seed": 3,
            "weak_augment": ["crop", "noise"], "hparams": {"temperature": 0.4}, "name": "orig"}  # fmt: skip
    run_id = pages.post("/api/runs", json=spec).json()["id"]
    html = pages.get(f"/runs/{run_id}").text
    link = unescape(re.search(r'href="([^"]+)" id="clone-run"', html).group(1))
    query = parse_qs(urlsplit(link).query)
    assert query["algorithm"] == ["mixmatch"] and query["seed"] == ["3"]
    form = pages.get(link).text
    assert 'name="lr" value="0.01"' in form and 'name="hparams.temperature" value="0.4"' in form
    assert 'value="noise" checked' in form and 'value="flip" >' in form
    assert 'value="orig (edited)"' in form


def test_the_environment_shows_on_the_run_page_and_differences_on_compare(pages, engine):
    a = pages.post("/api/runs", json={"algorithm": "fixmatch", "seed": 0}).json()["id"]
    b = pages.post("/api/runs", json={"algorithm": "fixmatch", "seed": 1}).json()["id"]
    set_run(engine, a, status="succeeded", environment=ENV)
    set_run(engine, b, status="succeeded", environment={**ENV, "torch": "2.13.0", "host": "other"})
    assert pages.get(f"/api/runs/{a}").json()["environment"]["device_name"] == "NVIDIA H200"
    html = pages.get(f"/runs/{a}").text
    assert 'id="run-environment"' in html and "NVIDIA H200 · bf16 · torch 2.14.1" in html
    compare = pages.get(f"/compare?runs={a},{b}").text
    assert 'id="env-differs"' in compare and "torch" in compare
    assert '<th class="env" title="the runs\' environments differ here">host</th>' not in compare


def test_the_run_page_edits_name_notes_and_tags(pages):
    run_id = pages.post("/api/runs", json={"algorithm": "fixmatch", "name": "a"}).json()["id"]
    assert 'id="run-edit"' in pages.get(f"/runs/{run_id}").text
    form = {"name": "renamed", "notes": "lr too high?", "tags": "ablation, , keep"}
    assert pages.post(f"/runs/{run_id}/edit", data=form, follow_redirects=False).status_code == 303
    run = pages.get(f"/api/runs/{run_id}").json()
    assert (run["name"], run["spec"]["notes"], run["tags"]) == (
        "renamed",
        "lr too high?",
        ["ablation", "keep"],
    )
    bad = pages.post(f"/runs/{run_id}/edit", data={**form, "name": ""})
    assert bad.status_code == 422 and "name" in bad.text
    assert pages.get(f"/api/runs/{run_id}").json()["name"] == "renamed"

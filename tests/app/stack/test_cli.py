"""The matchlab command: flag parsing, and submit/sweep against a real server over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from app.client import Client, MatchlabError
from app.main import create_app
from app.stack.redis_server import free_port
from matchlab.cli import main
from matchlab.submit import parse_grid_values, parse_value


@pytest.fixture
def server_url(settings) -> Iterator[str]:
    """The API served by uvicorn on a free port, in a thread of this process."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, pages=False), port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_values_and_grids_parse_as_json_where_they_can():
    assert (
        parse_value("0.9") == 0.9 and parse_value("true") is True and parse_value("adam") == "adam"
    )
    assert parse_grid_values("0.9,0.95") == [0.9, 0.95]
    assert parse_grid_values("sgd, adam") == ["sgd", "adam"]
    assert parse_grid_values('[["crop"], ["crop", "flip"]]') == [["crop"], ["crop", "flip"]]


def test_submit_from_flags_and_file(server_url, tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"algorithm": "mixmatch", "epochs": 4, "lr": 0.01}))
    argv = ["submit", "--url", server_url, "--file", str(spec_file), "--seed", "3"]
    assert main([*argv, "--set", "hparams.temperature=0.25", "--set", "lr=0.02"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run 1 queued: ") and f"{server_url}/runs/1" in out
    run = Client(server_url).get(1)
    assert run["spec"]["algorithm"] == "mixmatch" and run["spec"]["seed"] == 3
    assert run["spec"]["epochs"] == 4 and run["spec"]["lr"] == 0.02
    assert run["spec"]["hparams"]["temperature"] == 0.25


def test_submit_reports_field_errors(server_url, capsys):
    argv = ["submit", "--url", server_url, "--algorithm", "fixmatch"]
    assert main([*argv, "--set", "hparams.threshold=3"]) == 2
    err = capsys.readouterr().err
    assert "not submitted" in err and "hparams.threshold: Input should be less than" in err


def test_sweep_from_flags(server_url, capsys):
    argv = ["sweep", "--url", server_url, "--algorithm", "fixmatch", "--epochs", "2"]
    argv += ["--grid", "hparams.threshold=0.9,0.95", "--seeds", "0,1,2", "--sweep-name", "tau"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"sweep 1 (6 runs): {server_url}/sweeps/1"
    sweep = Client(server_url).get_sweep(1)
    assert sweep["name"] == "tau" and sweep["seeds"] == [0, 1, 2]
    assert sorted({r["spec"]["hparams"]["threshold"] for r in sweep["runs"]}) == [0.9, 0.95]


def test_client_round_trip(server_url, engine):
    from tests.app.conftest import add_points, set_run

    with Client(server_url) as lab:
        run = lab.submit({"algorithm": "fixmatch"}, preset="tutorial")
        assert run["spec"]["optimizer"] == "adam"
        add_points(engine, run["id"], "val/top1", [1.0, 2.0, 3.0])
        set_run(engine, run["id"], status="succeeded")
        assert lab.wait(run["id"], timeout=5)["status"] == "succeeded"
        assert lab.metrics(run["id"], keys=["val/top1"], max_points=2)["val/top1"]["value"] == [
            1.0,
            3.0,
        ]
        assert [name for name, _ in lab.events(run["id"])] == ["epoch"] * 3 + ["status"]
        with pytest.raises(MatchlabError) as error:
            lab.get(999)
        assert error.value.status_code == 404
        with pytest.raises(MatchlabError) as error:
            lab.submit({"algorithm": "nope"})
        assert error.value.status_code == 422 and "algorithm" in str(error.value)


def test_train_dispatches_to_ssl_core():
    result = subprocess.run(
        [sys.executable, "-m", "matchlab.cli", "train", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "usage: matchlab train" in result.stdout and "--algorithm" in result.stdout


def test_no_server_is_one_clear_line_and_matchlab_url_is_the_default(monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "MATCHLAB_URL": dead}
    for args in (["submit", "--algorithm", "fixmatch"], ["sweep", "--algorithm", "fixmatch"]):
        result = subprocess.run(
            [sys.executable, "-m", "matchlab.cli", *args], capture_output=True, text=True, env=env
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"no matchlab server answers at {dead}" in lines[0]
        assert "MATCHLAB_URL" in lines[0]


def test_client_takes_its_url_from_matchlab_url(server_url):
    code = (
        "from app.client import Client\nwith Client() as lab: print(lab.url, lab.runs()['total'])"
    )
    env = {**os.environ, "MATCHLAB_URL": server_url}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [server_url, "0"]


def test_a_search_from_flags(server_url, capsys):
    argv = ["sweep", "--url", server_url, "--algorithm", "fixmatch", "--epochs", "2"]
    argv += ["--method", "random", "--space", "lr=log_uniform:1e-3:0.1", "--seeds", "0,1"]
    argv += ["--space", "hparams.unlabeled_weight=choice:0.5,1,2", "--configs", "5"]
    argv += ["--parallel", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"random search 1: {server_url}/sweeps/1"
    sweep = Client(server_url).get_sweep(1)
    assert sweep["search"]["budget"] == {"configs": 5} and sweep["seeds"] == [0, 1]
    assert len(sweep["trials"]) == 2 and len(sweep["runs"]) == 4
    assert {r["spec"]["hparams"]["unlabeled_weight"] for r in sweep["runs"]} <= {0.5, 1, 2}
    bad = [*argv[:7], "--method", "tpe", "--space", "lr=log_uniform:0:1", "--configs", "5"]
    assert main(bad) == 2
    assert "space.lr.low" in capsys.readouterr().err

"""Resume and sync through the real stack: a worker process continues the same run from its
checkpoint; a ``matchlab train --out`` folder comes into the server and onto compare."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from app.client import MatchlabError
from matchlab.cli import main
from tests.e2e.conftest import ROOT, Stack, tiny_spec

pytestmark = pytest.mark.e2e


def test_a_cancelled_run_resumes_as_the_same_run_and_keeps_its_epochs(stack: Stack, capsys):
    stack.start_worker()
    assert main(["status", "--url", stack.url]) == 0
    assert re.search(r"workers   1\n  matchlab-\d+@\S+: 0 of 1 slots training\n",
                     capsys.readouterr().out)  # fmt: skip
    lab = stack.client
    run_id = lab.submit(tiny_spec(epochs=6, iters_per_epoch=8))["id"]
    stack.wait_for(lambda: lab.get(run_id)["epoch"] >= 1, "the first epoch", 120)
    lab.cancel(run_id)
    cancelled = lab.wait(run_id, timeout=60, poll=0.2)
    assert cancelled["status"] == "cancelled" and 1 <= cancelled["epoch"] < 6, stack.logs()
    before = lab.metrics(run_id, keys=["val/top1"])["val/top1"]

    resumed = lab.resume(run_id)
    assert resumed["id"] == run_id and resumed["status"] == "queued"
    with pytest.raises(MatchlabError) as refused:  # queued again: nothing to resume
        lab.resume(run_id)
    assert refused.value.status_code == 409 and "only a cancelled, failed or pruned run" in str(
        refused.value
    )

    done = lab.wait(run_id, timeout=240, poll=0.3)
    assert done["status"] == "succeeded", stack.logs()
    assert done["epoch"] == 6 and done["step"] == done["total_steps"] == 48
    series = lab.metrics(run_id)
    for key, points in series.items():
        assert points["epoch"] == [1, 2, 3, 4, 5, 6], key  # every epoch exactly once
    after = series["val/top1"]
    n = len(before["epoch"])
    # The epochs before the cancel are the very points stored then, not a second training.
    assert after["value"][:n] == before["value"] and after["wall_time"][:n] == before["wall_time"]
    assert lab.runs()["total"] == 1  # the same run, no copy


def test_a_run_without_checkpoint_is_not_resumed(stack: Stack):
    lab = stack.client
    run_id = lab.submit(tiny_spec())["id"]  # no worker: it stays queued
    lab.cancel(run_id)
    with pytest.raises(MatchlabError) as refused:
        lab.resume(run_id)
    assert refused.value.status_code == 409 and "no checkpoint" in str(refused.value)


def test_sync_brings_a_train_out_folder_onto_compare(stack: Stack, tmp_path):
    folder = tmp_path / "fix"
    train = [sys.executable, "-m", "matchlab.cli", "train", "--algorithm", "fixmatch",
             "--epochs", "2", "--iters-per-epoch", "3", "--set", "net=cnn_small",
             "--set", "batch_size=16", "--set", "device=cpu", "--out", str(folder)]  # fmt: skip
    env = {**stack.env, "MATCHLAB_HOME": str(tmp_path / "local")}
    trained = subprocess.run(train, cwd=ROOT, env=env, timeout=300, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr
    # It says what it trains before PyTorch loads; the bar shows the mask in % as the pages do.
    assert trained.stderr.splitlines()[0].endswith("loading PyTorch…")
    assert re.search(r"mask=\d+(\.\d)?%", trained.stderr), trained.stderr

    sync = [sys.executable, "-m", "matchlab.cli", "sync", str(folder), "--url", stack.url]
    out = subprocess.run(sync, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("run 1 succeeded (2 epochs): ")
    again = subprocess.run(sync, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.stdout.startswith("run 1 succeeded")  # the same folder, the same run
    assert stack.client.runs()["total"] == 1

    compare = stack.client.compare([1], keys=["val/top1"])
    (member,) = compare["runs"]
    assert member["series"]["val/top1"]["epoch"] == [1, 2]
    assert member["summary"]["best_val_top1"] == max(member["series"]["val/top1"]["value"])
    run = stack.client.get(1)
    assert run["uid"] == json.loads((folder / "run.json").read_text())["uid"]
    stored = stack.home / "runs" / run["uid"]
    assert (stored / "checkpoint.pt").read_bytes() == (folder / "checkpoint.pt").read_bytes()


def test_a_folder_stopped_early_syncs_as_cancelled_and_finishes_on_a_worker(stack: Stack, tmp_path):
    folder = tmp_path / "stopped"
    train = [sys.executable, "-m", "matchlab.cli", "train", "--algorithm", "fixmatch",
             "--epochs", "6", "--iters-per-epoch", "4", "--set", "net=cnn_small",
             "--set", "batch_size=16", "--set", "device=cpu", "--out", str(folder), "--json"]  # fmt: skip
    env = {**stack.env, "MATCHLAB_HOME": str(tmp_path / "local")}
    process = subprocess.Popen(train, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    log = folder / "metrics.jsonl"
    stack.wait_for(lambda: log.is_file() and log.read_text().count("\n") >= 1, "epoch 1", 300)
    process.send_signal(signal.SIGINT)  # Ctrl-C: the folder keeps its last checkpoint
    process.wait(timeout=60)
    done_here = log.read_text().count("\n")

    run = stack.client.import_folder(folder)
    if done_here == 6:
        pytest.skip("the training finished before Ctrl-C reached it")
    assert run["status"] == "cancelled" and run["epoch"] == done_here
    stack.start_worker()
    stack.client.resume(run["id"])
    finished = stack.client.wait(run["id"], timeout=240, poll=0.3)
    assert finished["status"] == "succeeded", stack.logs()
    for key, points in stack.client.metrics(run["id"]).items():
        assert points["epoch"] == [1, 2, 3, 4, 5, 6], key

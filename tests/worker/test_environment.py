"""Every run records what produced it: code version and git state, software, the device and
precision actually used, the dataset's bytes, and the host and worker."""

from __future__ import annotations

import hashlib
import platform

import torch
import torchvision

from ssl_core.environment import code_version, tensors_sha256
from tests.conftest import run_folder
from tests.worker.conftest import load
from worker.runner import run_training

KEYS = {
    "matchlab_version", "git_commit", "git_dirty", "python", "torch", "torchvision", "cuda",
    "device_name", "precision", "host", "worker", "dataset_sha256",
}  # fmt: skip


def test_a_real_training_stores_its_environment(settings, engine, make_run):
    run_id = make_run(epochs=1, iters_per_epoch=2, batch_size=8, eval_batch_size=256)
    assert run_training(run_id, settings=settings, worker_name="w1@box") == "succeeded"
    env = load(engine, run_id).environment
    assert KEYS <= set(env)
    assert env["torch"] == torch.__version__ and env["torchvision"] == torchvision.__version__
    assert env["python"] == platform.python_version()
    assert env["precision"] == "fp32" and env["device"] == "cpu" and env["cuda"] is None
    assert env["host"] == platform.node() and env["worker"] == "w1@box"
    assert env["git_commit"] == code_version()["git_commit"]
    # The digest is over the exact bytes: recomputed here from the files the run read.
    from ssl_core.data.datasets import load_dataset

    raw = load_dataset("digits", settings.datasets_dir)
    assert env["dataset_sha256"] == tensors_sha256(raw.train_x, raw.train_y, raw.test_x, raw.test_y)
    # The best validation epoch's EMA weights are kept beside the resumable last checkpoint.
    best = torch.load(run_folder(settings, run_id) / "best.pt", weights_only=True)
    assert best["epoch"] == 1 and "ema" in best and best["summary"]["best_epoch"] == 1


def test_the_dataset_digest_changes_with_one_byte():
    x = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    y = torch.arange(4)
    before = tensors_sha256(x, y)
    x[0, 0, 0, 0] = 1
    assert tensors_sha256(x, y) != before
    assert before == hashlib.sha256(torch.zeros(16, dtype=torch.uint8).numpy().tobytes()
                                    + y.numpy().tobytes()).hexdigest()  # fmt: skip


def test_git_state_is_read_from_the_checkout():
    version = code_version()
    assert version["git_commit"] is None or len(version["git_commit"]) == 40
    assert version["git_dirty"] in (True, False, None)

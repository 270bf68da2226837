"""``ssl_core.train`` resumes a checkpoint in ``out_dir`` only when it holds the spec (and run
identity) it is asked to train; another run's checkpoint is refused and left as it is."""

from __future__ import annotations

import pytest
import torch

from ssl_core import train
from ssl_core.contract.callbacks import Callback
from ssl_core.contract.errors import CheckpointMismatch

TINY = {"algorithm": "fixmatch", "epochs": 1, "iters_per_epoch": 2, "batch_size": 8,
        "eval_batch_size": 256, "device": "cpu"}  # fmt: skip


def test_a_checkpoint_of_another_spec_is_refused_and_kept(tmp_path):
    train({**TINY, "seed": 3, "num_labels": 40}, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(CheckpointMismatch) as refused:
        train({**TINY, "seed": 42, "num_labels": 100, "epochs": 2}, tmp_path)
    message = str(refused.value)
    assert f"checkpoint in {tmp_path} was trained with a different spec" in message
    assert "seed: 3 there, 42 here" in message and "num_labels: 40 there, 100 here" in message
    # Nothing was written over: the other run's checkpoint, spec.json and metrics stay.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


class StopAfterOneEpoch(Callback):
    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_end(self, end) -> None:
        self.epochs += 1

    def should_stop(self) -> bool:
        return self.epochs >= 1


def test_the_same_spec_resumes_even_renamed_and_resume_false_starts_over(tmp_path):
    spec = {**TINY, "seed": 3, "epochs": 2}
    assert train(spec, tmp_path, [StopAfterOneEpoch()], uid="a" * 32)["stopped"]
    # A name or notes edited after launch is a label, not another run.
    renamed = {**spec, "name": "renamed", "notes": "edited"}
    summary = train(renamed, tmp_path, uid="a" * 32)
    assert summary["epochs"] == 2 and not summary["stopped"]
    assert train({**spec, "seed": 4}, tmp_path, resume=False)["epochs"] == 2


def test_a_checkpoint_of_another_run_identity_is_refused(tmp_path):
    train({**TINY, "seed": 3, "num_labels": 40}, tmp_path, uid="a" * 32)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["uid"] == "a" * 32
    assert torch.load(tmp_path / "best.pt", weights_only=True)["uid"] == "a" * 32
    with pytest.raises(CheckpointMismatch, match=f"belongs to run {'a' * 32} "):
        train({**TINY, "seed": 3, "num_labels": 40}, tmp_path, uid="b" * 32)

"""What a user sees of every algorithm stays as it was when the trainer took the pseudo-label
statistics and the saving of algorithm state over from the algorithms: the same metrics for the
same seeded run, and checkpoints written in the earlier format resume exactly.

``logged_metrics.json`` holds the values the code of that time logged and saved (see
``logged_metrics.py``). On the machine that wrote them they are equal to the last bit; the
tolerance only absorbs another CPU's float rounding in the few training steps.
"""

from __future__ import annotations

import json

import pytest
import torch

from ssl_core import train
from ssl_core.contract.callbacks import Callback
from ssl_core.contract.catalog import BUILTIN_ALGORITHMS
from tests.ssl_core.algorithms.logged_metrics import (
    FIXTURE,
    logged,
    spec,
    tensor_from_json,
    untimed,
)

BEFORE = json.loads(FIXTURE.read_text())
STATEFUL = [name for name in BUILTIN_ALGORITHMS if BEFORE[name]["state"]]


def close(now: list[dict[str, float]], before: list[dict[str, float]]) -> bool:
    return [sorted(epoch) for epoch in now] == [sorted(epoch) for epoch in before] and all(
        a == pytest.approx(b, rel=1e-4, abs=1e-6) for a, b in zip(now, before, strict=True)
    )


@pytest.mark.parametrize("algorithm", list(BUILTIN_ALGORITHMS))
def test_every_algorithm_logs_the_same_metrics_as_before(tmp_path, algorithm):
    now = logged(algorithm, tmp_path)["epochs"]
    assert close(now, BEFORE[algorithm]["epochs"])
    shares = [k for k in now[-1] if k.startswith("train/pseudo_label_share/")]
    assert len(shares) in (0, 10)  # the per-class keys, all of them or (supervised) none


def test_the_stateful_algorithms_are_the_ones_the_fixture_checks():
    assert set(STATEFUL) == {"flexmatch", "freematch", "softmatch", "remixmatch"}


class Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.epochs: list[dict[str, float]] = []
        self.stop_after = stop_after

    def on_epoch_end(self, end) -> None:  # noqa: ANN001 — ssl_core.callbacks.EpochEnd
        self.epochs.append(untimed(end.metrics))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.epochs) >= self.stop_after


@pytest.mark.parametrize("algorithm", STATEFUL)
def test_a_checkpoint_in_the_earlier_format_resumes_exactly(tmp_path, algorithm):
    train(spec(algorithm), tmp_path, callbacks=[Recorder(stop_after=1)])
    path = tmp_path / "checkpoint.pt"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["epoch"] == 1
    # The earlier format: the buffers' own names (``selected``), no submodule prefix.
    earlier = {k: tensor_from_json(v) for k, v in BEFORE[algorithm]["state"].items()}
    assert set(earlier) != set(checkpoint["algorithm"])
    torch.save({**checkpoint, "algorithm": earlier}, path)

    resumed = Recorder()
    train(spec(algorithm), tmp_path, callbacks=[resumed])
    # Epoch 1 is replayed from the checkpoint, epoch 2 trained from the earlier state: both as
    # the uninterrupted run of that time logged them.
    assert close(resumed.epochs, BEFORE[algorithm]["epochs"])

"""``train/pseudo_label_share/<class>``: of the pseudo-labels an epoch admitted into the unlabeled
loss, the share naming each class, checked against a bincount done by hand. The trainer's
EpochMeter counts them from the steps' outputs. The model is the identity, so its input *is* its
logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_core import train
from ssl_core.algorithms.base import Batch, build_algorithm
from ssl_core.contract.spec import RunSpec
from ssl_core.epoch_meter import EpochMeter
from tests.ssl_core.test_training import TINY, Recorder

CPU = torch.device("cpu")
LN = math.log
SHARES = [f"train/pseudo_label_share/{c}" for c in range(3)]


def make(name: str, **hparams):
    spec = RunSpec.model_validate({"algorithm": name, "hparams": hparams})
    return build_algorithm(spec, num_classes=3, num_unlabeled=100, device=CPU)


def step(algo, meter: EpochMeter, weak: list[tuple[float, float, float]]) -> None:
    """One step on unlabeled images whose weak-view logits are ``weak`` (strong view: zeros),
    counted by ``meter`` as the trainer does."""
    u = torch.tensor(weak)
    x = torch.zeros(1, 3)
    batch = Batch(x, torch.tensor([0]), [u, torch.zeros_like(u)], torch.arange(len(u)))
    meter.add(algo.step(nn.Identity(), batch, step=0), batch)


def shares(meter: EpochMeter) -> list[float]:
    out = meter.class_shares()
    return [out[key] for key in SHARES]


def test_fixmatch_shares_are_the_bincount_of_the_admitted_pseudo_labels():
    algo, meter = make("fixmatch", threshold=0.95), EpochMeter(3, CPU)
    sure = LN(99 * 2)  # softmax of (sure, 0, 0) is 0.99 on the first class
    # Step 1 admits classes 0, 0, 2 (the unsure row is left out); step 2 admits 0 and 1.
    step(algo, meter, [(sure, 0, 0), (sure, 0, 0), (1, 1, 0), (0, 0, sure)])
    step(algo, meter, [(sure, 0, 0), (0, sure, 0), (0, 0, 0)])
    # bincount([0, 0, 2, 0, 1]) = [3, 1, 1] of 5 admitted
    assert shares(meter) == pytest.approx([3 / 5, 1 / 5, 1 / 5])
    assert meter.metrics()["train/mask_ratio"] == pytest.approx(5 / 7)
    # The count is per epoch: the next epoch (a new meter) starts from nothing.
    meter = EpochMeter(3, CPU)
    step(algo, meter, [(0, sure, 0)])
    assert shares(meter) == pytest.approx([0.0, 1.0, 0.0])


def test_an_epoch_that_admitted_nothing_logs_zeros():
    algo, meter = make("fixmatch", threshold=0.95), EpochMeter(3, CPU)
    step(algo, meter, [(1, 0, 0), (0, 0, 1)])  # confidences ≈ 0.58: below τ
    assert shares(meter) == [0.0, 0.0, 0.0]


def test_soft_weights_count_as_their_weight():
    # SoftMatch weighs every pseudo-label; the shares are the weights' per-class sums.
    algo, meter = make("softmatch"), EpochMeter(3, CPU)
    step(algo, meter, [(3, 0, 0), (0, 0, 3), (0, 0, 3)])
    weights = meter.class_counts.clone()
    assert weights[1].item() == 0.0 and weights[0].item() > 0 and weights[2].item() > 0
    total = weights.sum().item()
    assert shares(meter) == pytest.approx([w / total for w in weights.tolist()])


def test_flexmatch_logs_the_shares_beside_its_thresholds():
    algo, meter = make("flexmatch", threshold=0.95), EpochMeter(3, CPU)
    step(algo, meter, [(0, 0, 1)])  # thresholds start at 0 in warm-up: everything is admitted
    assert shares(meter) == [0.0, 0.0, 1.0]
    out = algo.epoch_metrics()
    assert {f"train/threshold/{c}" for c in range(3)} <= set(out)
    assert "train/unseen_ratio" in out


@pytest.mark.parametrize("algorithm", ["fixmatch", "mixmatch"])
def test_a_trained_epoch_logs_shares_that_sum_to_one(algorithm):
    recorder = Recorder()
    # τ = 0: FixMatch admits every pseudo-label; MixMatch's guesses count for every image.
    hparams = {"threshold": 0.0} if algorithm == "fixmatch" else {}
    train({"algorithm": algorithm, **TINY, "hparams": hparams}, callbacks=[recorder])
    for *_, metrics in recorder.epochs:
        values = [metrics[f"train/pseudo_label_share/{c}"] for c in range(10)]
        assert sum(values) == pytest.approx(1.0) and all(0.0 <= v <= 1.0 for v in values)

"""Horizons that fit the run: the moving averages a spec leaves out settle within its length,
an explicit value and the `paper` preset keep theirs, and the stored spec names the value."""

from __future__ import annotations

import pytest
import torch

from ssl_core.algorithms.freematch import SelfAdaptiveThreshold
from ssl_core.algorithms.softmatch import TruncatedGaussianWeight
from ssl_core.contract.horizons import (
    SETTLE_SHARE,
    SETTLED_WEIGHT,
    remaining_weight,
    settling_momentum,
    unsettled,
)
from ssl_core.contract.spec import RunSpec, build_spec

CPU = torch.device("cpu")
DEFAULT_STEPS = 600  # the CPU default: 20 epochs × 30 steps


@pytest.mark.parametrize("algorithm", ["freematch", "softmatch"])
def test_a_600_step_run_derives_a_momentum_that_settles(algorithm):
    spec = RunSpec(algorithm=algorithm)
    assert spec.total_steps == DEFAULT_STEPS
    m = spec.hparams.ema_momentum
    assert m == spec.to_json_dict()["hparams"]["ema_momentum"]  # recorded in the stored spec
    assert remaining_weight(m, int(SETTLE_SHARE * DEFAULT_STEPS)) <= SETTLED_WEIGHT
    assert remaining_weight(m, DEFAULT_STEPS) < 1e-6  # tiny by the end
    assert remaining_weight(0.999, DEFAULT_STEPS) == pytest.approx(0.549, abs=1e-3)  # before


def test_remixmatch_alignment_and_mixmatch_ramp_follow_the_run():
    assert RunSpec(algorithm="remixmatch").hparams.alignment_momentum == settling_momentum(600)
    assert RunSpec(algorithm="mixmatch").hparams.rampup_iters == 600
    longer = RunSpec(algorithm="mixmatch", epochs=100, iters_per_epoch=100)
    assert longer.hparams.rampup_iters == 10_000  # the whole run, not a fixed 600


def test_freematch_threshold_reaches_a_constant_confidence_in_600_steps():
    # The real update, 600 times, on a batch whose mean top probability is 0.66.
    probs = torch.tensor([[0.66, 0.34]] * 8)
    derived = SelfAdaptiveThreshold(2, RunSpec(algorithm="freematch").hparams.ema_momentum, CPU)
    paper = SelfAdaptiveThreshold(2, 0.999, CPU)
    for _ in range(DEFAULT_STEPS):
        derived.update(probs)
        paper.update(probs)
    assert derived.global_threshold.item() == pytest.approx(0.66, abs=1e-4)
    assert paper.global_threshold.item() == pytest.approx(0.5 + 0.16 * (1 - 0.999**600), abs=1e-4)


def test_softmatch_variance_reaches_the_batch_variance_in_600_steps():
    confidence = torch.linspace(0.5, 1.0, 16)
    probs = torch.stack([confidence, 1 - confidence], dim=1)
    true = confidence.var(unbiased=True).item()
    m = RunSpec(algorithm="softmatch").hparams.ema_momentum
    weighting = TruncatedGaussianWeight(2, m, 2.0, CPU)
    for _ in range(DEFAULT_STEPS):
        weighting.weights(probs)
    assert weighting.variance.item() == pytest.approx(true, rel=1e-3)
    assert weighting.mean.item() == pytest.approx(confidence.mean().item(), rel=1e-4)


def test_an_explicit_momentum_wins_and_the_paper_preset_keeps_the_papers():
    spec = RunSpec(algorithm="freematch", hparams={"ema_momentum": 0.99})
    assert spec.hparams.ema_momentum == 0.99
    for algorithm, field in [
        ("freematch", "ema_momentum"),
        ("softmatch", "ema_momentum"),
        ("remixmatch", "alignment_momentum"),
    ]:
        paper = build_spec({"algorithm": algorithm, "dataset": "cifar10"}, "paper")
        assert getattr(paper.hparams, field) == 0.999
    assert build_spec({"algorithm": "mixmatch"}, "paper").hparams.rampup_iters == 16384
    # A stored spec re-validated keeps what it recorded.
    stored = RunSpec(algorithm="softmatch").to_json_dict()
    assert RunSpec.model_validate(stored).to_json_dict() == stored


def test_a_long_run_keeps_the_papers_momentum():
    assert settling_momentum(2**20) == 0.999
    assert settling_momentum(600) < 0.999


def test_batchnorm_momentum_settles_on_the_wideresnet_and_is_applied():
    from ssl_core.nets import build_net
    from ssl_core.trainer import set_bn_momentum

    wrn = RunSpec(algorithm="fixmatch", dataset="cifar10")
    assert wrn.net == "wrn_28_2" and wrn.bn_momentum == pytest.approx(0.0303)
    assert remaining_weight(1 - wrn.bn_momentum, 150) <= SETTLED_WEIGHT
    assert RunSpec(algorithm="fixmatch").bn_momentum == 0.1  # the small CNN's own settles
    paper = build_spec({"algorithm": "fixmatch", "dataset": "cifar10"}, "paper")
    assert paper.bn_momentum == 0.001
    assert RunSpec(algorithm="fixmatch", dataset="cifar10", bn_momentum=0.01).bn_momentum == 0.01
    net = build_net("cnn_small", 10, 1)
    set_bn_momentum(net, 0.25)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and {m.momentum for m in bns} == {0.25}


def test_unsettled_names_the_mechanisms_a_spec_leaves_far_from_settled():
    paper_momenta = RunSpec(algorithm="freematch", hparams={"ema_momentum": 0.999}).to_json_dict()
    ((label, weight),) = unsettled(paper_momenta)
    assert label == "FreeMatch's global threshold" and weight == pytest.approx(0.549, abs=1e-3)
    assert unsettled(RunSpec(algorithm="freematch").to_json_dict()) == []
    wrn = RunSpec(algorithm="fixmatch", dataset="cifar10", bn_momentum=0.001).to_json_dict()
    assert [label for label, _ in unsettled(wrn)] == ["the BatchNorm running statistics"]

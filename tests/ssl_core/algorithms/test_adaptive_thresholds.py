"""FreeMatch and SoftMatch: the mask follows the model's confidence (self-adaptive thresholds, a
truncated Gaussian weight) through running estimates that are part of the algorithm's state.
Values worked out by hand (see support.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_core.algorithms.freematch import SelfAdaptiveThreshold, fairness_loss
from ssl_core.algorithms.softmatch import DistributionAlignment, TruncatedGaussianWeight
from tests.ssl_core.algorithms.support import CPU, LN, PROBS, batch, logits, make, used_correct


def test_freematch_self_adaptive_global_and_local_thresholds():
    sat = SelfAdaptiveThreshold(2, momentum=0.5, device=CPU)
    sat.update(PROBS)
    # τ = ½·½ + ½·mean(0.9, 0.7, 0.6, 0.8) = 0.625; p̃ = ½(½, ½) + ½(0.6, 0.4) = (0.55, 0.45);
    # h = ½(½, ½) + ½(¾, ¼) = (0.625, 0.375)
    assert sat.global_threshold.item() == pytest.approx(0.625)
    assert sat.class_confidence.tolist() == pytest.approx([0.55, 0.45])
    assert sat.label_hist.tolist() == pytest.approx([0.625, 0.375])
    mask, labels = sat.mask(PROBS)
    # class 0 needs 0.625, class 1 needs 0.625 · 0.45/0.55 = 0.511: 0.6 fails, 0.8 passes
    assert mask.tolist() == [1, 1, 0, 1] and labels.tolist() == [0, 0, 0, 1]


def test_freematch_fairness_term():
    sat = SelfAdaptiveThreshold(2, momentum=0.5, device=CPU)
    sat.update(PROBS)
    mask = torch.tensor([1.0, 1.0, 0.0, 1.0])
    strong = logits((LN(3), 0), (0, LN(3)), (0, 9), (LN(3), 0))  # (¾,¼), (¼,¾), –, (¾,¼)
    hist, mean = [2 / 3, 1 / 3], [1.75 / 3, 1.25 / 3]
    modulated = [m / h for m, h in zip(mean, hist, strict=True)]
    modulated = [v / sum(modulated) for v in modulated]
    target = [0.55 / 0.625, 0.45 / 0.375]
    target = [v / sum(target) for v in target]
    expected = sum(t * math.log(q + 1e-12) for t, q in zip(target, modulated, strict=True))
    assert fairness_loss(mask, strong, sat).item() == pytest.approx(expected, rel=1e-5)
    assert fairness_loss(torch.zeros(4), strong, sat).item() == 0.0


def test_freematch_step_masks_after_updating_and_adds_the_weighted_fairness_term():
    algo = make("freematch", fairness_weight=0.0)
    weak = logits((LN(9), 0), (0, 0))  # τ: 0.001·0.7 + 0.999·0.5 ≈ 0.5002 → only 0.9 kept
    b = batch(logits((0, 0)), [0], [weak, logits((0, 0), (0, 0))], [0, 1])
    out = algo.step(nn.Identity(), b, step=0)
    assert used_correct(out, b)[0] == 1 and out.loss_u.item() == pytest.approx(LN(2) / 2, rel=1e-6)
    with_fairness = make("freematch", fairness_weight=1.0).step(nn.Identity(), b, step=0)
    assert with_fairness.loss.item() < out.loss.item()  # L_f ≤ 0 (a negative cross-entropy)


def test_freematch_state_survives_a_checkpoint():
    algo, again = make("freematch"), make("freematch")
    algo.sat.update(PROBS)
    again.load_state_dict(algo.state_dict())
    assert again.sat.global_threshold.item() == algo.sat.global_threshold.item()
    assert again.sat.label_hist.tolist() == algo.sat.label_hist.tolist()


def test_softmatch_truncated_gaussian_weights():
    weighting = TruncatedGaussianWeight(2, momentum=0.0, n_sigma=2.0, device=CPU)
    weights = weighting.weights(PROBS)
    # μ = 0.75, σ² = (0.15² + 0.05² + 0.15² + 0.05²) / 3 = 0.05/3; 2σ²/n² = 0.05/6
    assert weighting.mean.item() == pytest.approx(0.75)
    assert weighting.variance.item() == pytest.approx(0.05 / 3)
    expected = [1.0, math.exp(-(0.05**2) / (0.05 / 6)), math.exp(-(0.15**2) / (0.05 / 6)), 1.0]
    assert weights.tolist() == pytest.approx(expected, rel=1e-4)  # 1, e^−0.3, e^−2.7, 1


def test_softmatch_estimates_move_with_momentum_from_their_start():
    weighting = TruncatedGaussianWeight(2, momentum=0.5, n_sigma=2.0, device=CPU)
    weighting.weights(PROBS)
    assert weighting.mean.item() == pytest.approx(0.5 * 0.5 + 0.5 * 0.75)
    assert weighting.variance.item() == pytest.approx(0.5 * 1.0 + 0.5 * 0.05 / 3)


def test_softmatch_uniform_alignment_starts_from_the_first_batch_mean():
    alignment = DistributionAlignment(2, momentum=0.5, device=CPU)
    aligned = alignment(PROBS)  # p̂ = (0.6, 0.4): row 1 ∝ (0.9/0.6, 0.1/0.4) = (1.5, 0.25)
    assert aligned[0].tolist() == pytest.approx([1.5 / 1.75, 0.25 / 1.75], rel=1e-4)
    alignment(torch.tensor([[1.0, 0.0]]))  # then EMA: ½(0.6, 0.4) + ½(1, 0)
    assert alignment.class_mean.tolist() == pytest.approx([0.8, 0.2])


def test_softmatch_pseudo_labels_come_from_the_unaligned_prediction():
    algo = make("softmatch", ema_momentum=0.999)
    algo.alignment.class_mean = torch.tensor([0.8, 0.2])
    algo.alignment.started = torch.tensor(True)
    weak = logits((LN(0.55), LN(0.45)))  # aligned ∝ (0.55/0.8, 0.45/0.2): argmax would be 1
    b = batch(logits((0, 0)), [0], [weak, logits((0, 0))], [0])
    out = algo.step(nn.Identity(), b, step=0)
    used, correct = used_correct(out, b)
    assert correct == pytest.approx(used)  # label 0 = true 0
    assert out.loss_u.item() == pytest.approx(used * LN(2), rel=1e-5)


def test_softmatch_one_unlabeled_sample_keeps_the_variance_finite():
    weighting = TruncatedGaussianWeight(2, momentum=0.5, n_sigma=2.0, device=CPU)
    weights = weighting.weights(torch.tensor([[0.3, 0.7]]))
    assert weighting.variance.item() == 1.0 and torch.isfinite(weights).all()


def test_softmatch_state_survives_a_checkpoint():
    algo, again = make("softmatch"), make("softmatch")
    algo.step(nn.Identity(), batch(logits((0, 0)), [0], [PROBS.log(), PROBS.log()], [0] * 4), 0)
    again.load_state_dict(algo.state_dict())
    assert again.alignment.class_mean.tolist() == algo.alignment.class_mean.tolist()
    assert again.weighting.variance.item() == algo.weighting.variance.item()
    assert bool(again.alignment.started)

"""Pseudo-Label and UDA: confident predictions on the unlabeled batch become its targets, hard
(Pseudo-Label) or sharpened soft ones (UDA, with training signal annealing on the labeled loss).
Values worked out by hand (see support.py)."""

from __future__ import annotations

import math

import pytest
from torch import nn

from ssl_core.algorithms.uda import tsa_threshold
from tests.ssl_core.algorithms.support import LN, batch, logits, make, used_correct


def test_pseudolabel_keeps_confident_predictions_as_hard_targets_and_ramps_its_weight():
    algo = make("pseudolabel")  # τ 0.95, λu 1, ramp over 40 steps
    u = logits((LN(99), 0), (LN(9), 0), (0, LN(99)))  # confidences 0.99, 0.9, 0.99
    b = batch(logits((0, 0)), [0], [u], [0, 1, 0])
    out = algo.step(nn.Identity(), b, step=20)
    kept_ce = LN(100 / 99)  # −ln 0.99
    loss_u = 2 * kept_ce / 3  # rows 1 and 3 kept, mean over all three
    assert out.loss_u.item() == pytest.approx(loss_u, rel=1e-5)
    assert out.unlabeled_weight == pytest.approx(0.5)  # 20 / 40
    assert out.loss.item() == pytest.approx(LN(2) + 0.5 * loss_u, rel=1e-5)
    assert used_correct(out, b) == (2, 1)  # labels 0 and 1; true 0 and 0 → one right
    later = make("pseudolabel").step(nn.Identity(), b, step=60)
    assert later.unlabeled_weight == pytest.approx(1.0)


def test_uda_sharpened_soft_targets_under_a_confidence_mask():
    algo = make("uda")  # β 0.8, τ 0.4, λ 1, TSA off
    weak = logits((LN(9), 0), (0, 0))  # confidence 0.9 (kept) and 0.5 (not)
    strong = logits((0, 0), (5, -5))
    x = logits((LN(9), 0), (0, 0))
    b = batch(x, [0, 1], [weak, strong], [0, 0])
    out = algo.step(nn.Identity(), b, step=50)
    # target of row 1: softmax((ln 9)/0.4, 0) = (243/244, 1/244); against (½, ½) the CE is ln 2
    assert out.loss_u.item() == pytest.approx(LN(2) / 2, rel=1e-6)
    assert out.loss_x.item() == pytest.approx((LN(10 / 9) + LN(2)) / 2, rel=1e-6)
    assert used_correct(out, b)[0] == 1


def test_uda_sharpening_changes_the_loss():
    weak, strong = logits((LN(9), 0)), logits((LN(3), 0))
    b = batch(logits((0, 0)), [0], [weak, strong], [0])
    sharp = make("uda").step(nn.Identity(), b, 0).loss_u.item()
    plain = make("uda", temperature=1.0).step(nn.Identity(), b, 0).loss_u.item()
    # CE of (¾, ¼) against (243/244, 1/244) and against (0.9, 0.1)
    assert sharp == pytest.approx(-(243 / 244) * LN(0.75) - (1 / 244) * LN(0.25), rel=1e-5)
    assert plain == pytest.approx(-0.9 * LN(0.75) - 0.1 * LN(0.25), rel=1e-5)


@pytest.mark.parametrize(
    ("schedule", "alpha"),
    [("linear", 0.5), ("exp", math.exp(-2.5)), ("log", 1 - math.exp(-2.5)), ("none", None)],
)
def test_tsa_threshold_at_half_the_run(schedule, alpha):
    expected = 1.0 if alpha is None else alpha * 0.5 + 0.5  # α(1 − 1/K) + 1/K, K = 2
    assert tsa_threshold(schedule, 50, 100, 2) == pytest.approx(expected)


def test_uda_tsa_leaves_out_labeled_samples_already_above_the_threshold():
    algo = make("uda", tsa_schedule="linear")
    x = logits((LN(9), 0), (0, 0))  # 0.9 > η = 0.75 is left out; 0.5 stays
    b = batch(x, [0, 1], [logits((0, 0)), logits((0, 0))], [0])
    assert algo.step(nn.Identity(), b, step=50).loss_x.item() == pytest.approx(LN(2) / 2)

"""Targets, masks and losses of the USB baselines on hand-built logits, against values worked
out by hand (in the comments) — the model is the identity, so its input *is* its logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_core.algorithms.base import Batch, build_algorithm
from ssl_core.algorithms.freematch import SelfAdaptiveThreshold, fairness_loss
from ssl_core.algorithms.softmatch import DistributionAlignment, TruncatedGaussianWeight
from ssl_core.algorithms.uda import tsa_threshold
from ssl_core.contract.spec import RunSpec

CPU = torch.device("cpu")
LN = math.log


def make(name: str, **hparams):
    # 10 × 10 = 100 steps: a warm-up share of 0.4 is 40 steps.
    spec = RunSpec.model_validate(
        {"algorithm": name, "epochs": 10, "iters_per_epoch": 10, "hparams": hparams}
    )
    return build_algorithm(spec, num_classes=2, num_unlabeled=100, device=CPU)


def logits(*rows: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def batch(x, y, views, true=None) -> Batch:
    return Batch(x, torch.tensor(y), list(views), torch.arange(len(views[0])), torch.tensor(true))


# ---- Pseudo-Label -----------------------------------------------------------------------


def test_pseudolabel_keeps_confident_predictions_as_hard_targets_and_ramps_its_weight():
    algo = make("pseudolabel")  # τ 0.95, λu 1, ramp over 40 steps
    u = logits((LN(99), 0), (LN(9), 0), (0, LN(99)))  # confidences 0.99, 0.9, 0.99
    out = algo.step(nn.Identity(), batch(logits((0, 0)), [0], [u], [0, 1, 0]), step=20)
    kept_ce = LN(100 / 99)  # −ln 0.99
    loss_u = 2 * kept_ce / 3  # rows 1 and 3 kept, mean over all three
    assert out.loss_u.item() == pytest.approx(loss_u, rel=1e-5)
    assert out.unsup_weight.item() == pytest.approx(0.5)  # 20 / 40
    assert out.loss.item() == pytest.approx(LN(2) + 0.5 * loss_u, rel=1e-5)
    assert out.num_used.item() == 2  # labels 0 and 1; true 0 and 0 → one right
    assert out.num_correct.item() == 1
    assert make("pseudolabel").step(
        nn.Identity(), batch(logits((0, 0)), [0], [u], [0, 1, 0]), step=60
    ).unsup_weight.item() == pytest.approx(1.0)


# ---- Π-model and Mean Teacher ------------------------------------------------------------


def test_pimodel_mse_between_two_views_with_gradient_through_the_second_only():
    algo = make("pimodel")  # λu 10
    first = logits((0, 0), (LN(3), 0)).requires_grad_()
    second = logits((LN(3), 0), (0, 0)).requires_grad_()
    out = algo.step(nn.Identity(), batch(logits((0, 0)), [1], [first, second], [0, 0]), step=50)
    # softmax (½, ½) against (¾, ¼): ((¼)² + (¼)²) / 2 = 1/16 on both rows
    assert out.loss_u.item() == pytest.approx(1 / 16, rel=1e-6)
    assert out.unsup_weight.item() == pytest.approx(10.0)
    assert out.loss.item() == pytest.approx(LN(2) + 10 / 16, rel=1e-6)
    out.loss.backward()
    assert first.grad is None and second.grad is not None
    assert out.num_used.item() == 2  # no mask


class Doubler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x


def test_meanteacher_target_comes_from_the_teacher_in_training_mode():
    algo = make("meanteacher")  # λu 50
    teacher = Doubler().eval()
    algo.teacher = teacher
    seen = []
    teacher.register_forward_hook(lambda m, i, o: seen.append(m.training))
    first = logits((LN(3) / 2, 0))  # the teacher doubles it: (ln 3, 0) → (¾, ¼)
    second = logits((0, 0))  # the student (identity): (½, ½)
    out = algo.step(nn.Identity(), batch(logits((0, 0)), [0], [first, second], [0]), step=100)
    assert out.loss_u.item() == pytest.approx(1 / 16, rel=1e-6)  # the student's own: 0.018
    assert out.loss.item() == pytest.approx(LN(2) + 50 / 16, rel=1e-6)
    assert seen == [True] and teacher.training is False


def test_meanteacher_without_a_teacher_says_so():
    with pytest.raises(RuntimeError, match="teacher"):
        make("meanteacher").step(
            nn.Identity(), batch(logits((0, 0)), [0], [logits((0, 0))] * 2, [0]), step=0
        )


def test_meanteacher_with_the_students_weights_is_the_pimodel():
    # A teacher equal to the student (EMA decay 0) must give the Π-model's step exactly: same
    # batch-statistics target, same loss, and neither pass moves BatchNorm's running statistics.
    # (A teacher run in eval mode would use running statistics instead and differ.)
    import copy

    from ssl_core.nets import build_net

    torch.manual_seed(0)
    student = build_net("cnn_small", 10, 1).train()
    views = [torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)]
    b = Batch(
        torch.randn(4, 1, 8, 8), torch.arange(4), views, torch.arange(8), torch.zeros(8).long()
    )
    spec = {"epochs": 10, "iters_per_epoch": 10}
    pi = build_algorithm(RunSpec.model_validate({"algorithm": "pimodel", **spec}), 10, 100, CPU)
    mt = build_algorithm(RunSpec.model_validate({"algorithm": "meanteacher", **spec}), 10, 100, CPU)
    mt.teacher = copy.deepcopy(student).eval()
    teacher_stats = [t.clone() for t in mt.teacher.buffers()]
    pi_out = pi.step(copy.deepcopy(student), b, step=100)
    mt_out = mt.step(copy.deepcopy(student), b, step=100)
    assert mt_out.loss_u.item() == pytest.approx(pi_out.loss_u.item(), rel=1e-5)
    assert mt_out.loss_x.item() == pytest.approx(pi_out.loss_x.item(), rel=1e-6)
    assert all(torch.equal(a, t) for a, t in zip(teacher_stats, mt.teacher.buffers(), strict=True))
    assert mt.teacher.training is False


def test_trainer_gives_mean_teacher_the_evaluated_ema():
    from ssl_core.trainer import Trainer

    trainer = Trainer(RunSpec.model_validate({"algorithm": "meanteacher", "device": "cpu"}))
    assert trainer.algorithm.teacher is trainer.ema.model


# ---- UDA ---------------------------------------------------------------------------------


def test_uda_sharpened_soft_targets_under_a_confidence_mask():
    algo = make("uda")  # β 0.8, τ 0.4, λ 1, TSA off
    weak = logits((LN(9), 0), (0, 0))  # confidence 0.9 (kept) and 0.5 (not)
    strong = logits((0, 0), (5, -5))
    x = logits((LN(9), 0), (0, 0))
    out = algo.step(nn.Identity(), batch(x, [0, 1], [weak, strong], [0, 0]), step=50)
    # target of row 1: softmax((ln 9)/0.4, 0) = (243/244, 1/244); against (½, ½) the CE is ln 2
    assert out.loss_u.item() == pytest.approx(LN(2) / 2, rel=1e-6)
    assert out.loss_x.item() == pytest.approx((LN(10 / 9) + LN(2)) / 2, rel=1e-6)
    assert out.num_used.item() == 1


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


# ---- FreeMatch ---------------------------------------------------------------------------

PROBS = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.2, 0.8]])


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
    assert out.num_used.item() == 1 and out.loss_u.item() == pytest.approx(LN(2) / 2, rel=1e-6)
    with_fairness = make("freematch", fairness_weight=1.0).step(nn.Identity(), b, step=0)
    assert with_fairness.loss.item() < out.loss.item()  # L_f ≤ 0 (a negative cross-entropy)


def test_freematch_state_survives_a_checkpoint():
    algo, again = make("freematch"), make("freematch")
    algo.sat.update(PROBS)
    again.load_state_dict(algo.state_dict())
    assert again.sat.global_threshold.item() == algo.sat.global_threshold.item()
    assert again.sat.label_hist.tolist() == algo.sat.label_hist.tolist()


# ---- SoftMatch ---------------------------------------------------------------------------


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
    assert out.num_correct.item() == pytest.approx(out.num_used.item())  # label 0 = true 0
    assert out.loss_u.item() == pytest.approx(out.num_used.item() * LN(2), rel=1e-5)


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


# ---- ReMixMatch --------------------------------------------------------------------------


def test_remixmatch_guess_aligns_then_sharpens():
    algo = make("remixmatch", alignment_momentum=0.5)  # T 0.5
    guess = algo.guess(nn.Identity(), PROBS.log())
    # aligned to the uniform labeled distribution with p̂ = (0.6, 0.4): row 1 ∝ (1.5, 0.25);
    # sharpened with T = ½: ∝ (1.5², 0.25²)
    assert guess[0].tolist() == pytest.approx([2.25 / 2.3125, 0.0625 / 2.3125], rel=1e-4)
    # row 4 (0.2, 0.8) ∝ (1/3, 2) → (1/9, 4) / (37/9)
    assert guess[3].tolist() == pytest.approx([1 / 37, 36 / 37], rel=1e-4)


def test_remixmatch_rotation_turns_each_image_by_its_own_angle():
    from ssl_core.algorithms.remixmatch import rotate

    images = torch.arange(8 * 3 * 3, dtype=torch.float32).view(8, 1, 3, 3)
    rotated, turns = rotate(images)
    for image, turned, k in zip(images, rotated, turns.tolist(), strict=True):
        assert torch.equal(turned, torch.rot90(image, k, dims=(1, 2)))


def test_remixmatch_trains_its_rotation_head_and_checkpoints_it():
    from ssl_core.nets import build_net

    torch.manual_seed(0)
    algo = make("remixmatch")
    model = build_net("cnn_small", num_classes=2, in_channels=1)
    head = algo.extra_modules(model)
    assert head is algo.rotation_head and head.out_features == 4
    images = [torch.randn(4, 1, 8, 8) for _ in range(3)]
    out = algo.step(model, batch(torch.randn(4, 1, 8, 8), [0, 1, 0, 1], images, [0] * 4), 10)
    out.loss.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    again = make("remixmatch")
    again.extra_modules(build_net("cnn_small", num_classes=2, in_channels=1))
    again.load_state_dict(algo.state_dict())
    assert torch.equal(again.rotation_head.weight, head.weight)
    assert make("remixmatch", rotation_weight=0).extra_modules(model) is None


def test_remixmatch_rotation_head_is_optimised_by_the_trainer():
    from ssl_core.trainer import Trainer

    trainer = Trainer(RunSpec.model_validate({"algorithm": "remixmatch", "device": "cpu"}))
    head = trainer.algorithm.rotation_head
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in head.parameters()} <= optimised

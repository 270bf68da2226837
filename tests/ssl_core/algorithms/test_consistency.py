"""Π-model and Mean Teacher: two views of an image should agree; the target comes from the net
itself or from its EMA (the teacher). Values worked out by hand (see support.py)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ssl_core.algorithms.base import Batch, build_algorithm
from ssl_core.contract.spec import RunSpec
from tests.ssl_core.algorithms.support import CPU, LN, batch, logits, make, used_correct


def test_pimodel_mse_between_two_views_with_gradient_through_the_second_only():
    algo = make("pimodel")  # λu 10
    first = logits((0, 0), (LN(3), 0)).requires_grad_()
    second = logits((LN(3), 0), (0, 0)).requires_grad_()
    b = batch(logits((0, 0)), [1], [first, second], [0, 0])
    out = algo.step(nn.Identity(), b, step=50)
    # softmax (½, ½) against (¾, ¼): ((¼)² + (¼)²) / 2 = 1/16 on both rows
    assert out.loss_u.item() == pytest.approx(1 / 16, rel=1e-6)
    assert out.unlabeled_weight == pytest.approx(10.0)
    assert out.loss.item() == pytest.approx(LN(2) + 10 / 16, rel=1e-6)
    out.loss.backward()
    assert first.grad is None and second.grad is not None
    assert out.mask is None and used_correct(out, b)[0] == 2  # no mask: both count


class Scale(nn.Module):
    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x


def test_meanteacher_target_comes_from_its_own_ema_teacher_in_training_mode():
    algo = make("meanteacher", teacher_decay=0.5)  # λu 50
    algo.extra_modules(Scale(3.0))  # the teacher starts as a copy of the student: weight 3
    algo.teacher_model.eval()
    seen = []
    algo.teacher_model.register_forward_hook(lambda m, i, o: seen.append(m.training))
    first = logits((LN(3) / 2, 0))  # the teacher, 0.5·3 + 0.5·1 = 2, doubles it: (¾, ¼)
    second = logits((0, 0))  # the student (weight 1): (½, ½)
    out = algo.step(Scale(1.0), batch(logits((0, 0)), [0], [first, second], [0]), step=100)
    assert algo.teacher_model.weight.item() == pytest.approx(2.0)
    assert out.loss_u.item() == pytest.approx(1 / 16, rel=1e-6)  # the student's own: 0.018
    assert out.loss.item() == pytest.approx(LN(2) + 50 / 16, rel=1e-6)
    assert seen == [True]


def test_meanteacher_is_not_taught_by_the_evaluated_ema():
    # The evaluated average (ema_decay, 0.99 as for every method) must not be the teacher: its
    # own decay (teacher_decay) is what teaches, and it is saved with the algorithm's state.
    algo = make("meanteacher", teacher_decay=0.5)
    algo.teacher = Scale(100.0)  # what the trainer hands every algorithm: the evaluated EMA
    out = algo.step(Scale(1.0), batch(logits((0, 0)), [0], [logits((1, 0))] * 2, [0]), step=100)
    assert out.loss_u.item() == pytest.approx(0.0, abs=1e-7)  # teacher = student's own weight
    assert set(algo.state_dict()) == {"teacher_model.weight"}


def test_meanteacher_with_the_students_weights_is_the_pimodel():
    # A teacher equal to the student (EMA decay 0) must give the Π-model's step exactly: same
    # batch-statistics target, same loss, and neither pass moves BatchNorm's running statistics.
    # (A teacher run in eval mode would use running statistics instead and differ.)
    from ssl_core.nets import build_net

    torch.manual_seed(0)
    student = build_net("cnn_small", 10, 1).train()
    views = [torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)]
    b = Batch(
        torch.randn(4, 1, 8, 8), torch.arange(4), views, torch.arange(8), torch.zeros(8).long()
    )
    spec = {"epochs": 10, "iters_per_epoch": 10}
    pi = build_algorithm(RunSpec.model_validate({"algorithm": "pimodel", **spec}), 10, 100, CPU)
    mt_spec = {"algorithm": "meanteacher", **spec, "hparams": {"teacher_decay": 0.0}}
    mt = build_algorithm(RunSpec.model_validate(mt_spec), 10, 100, CPU)
    mt.extra_modules(copy.deepcopy(student).eval())
    teacher_stats = [t.clone() for t in mt.teacher_model.buffers()]
    pi_out = pi.step(copy.deepcopy(student), b, step=100)
    mt_out = mt.step(copy.deepcopy(student), b, step=100)
    assert mt_out.loss_u.item() == pytest.approx(pi_out.loss_u.item(), rel=1e-5)
    assert mt_out.loss_x.item() == pytest.approx(pi_out.loss_x.item(), rel=1e-6)
    teacher = mt.teacher_model
    assert all(torch.equal(a, t) for a, t in zip(teacher_stats, teacher.buffers(), strict=True))


def test_trainer_gives_mean_teacher_a_teacher_apart_from_the_evaluated_ema():
    from ssl_core.trainer import Trainer

    trainer = Trainer(RunSpec.model_validate({"algorithm": "meanteacher", "device": "cpu"}))
    assert trainer.algorithm.teacher_model is not trainer.ema.model
    assert trainer.ema.decay == 0.99 and trainer.algorithm.hp.teacher_decay == 0.9


def test_a_checkpoint_without_a_teacher_resumes_from_the_evaluated_ema():
    # Before the teacher had its own decay it *was* the evaluated EMA, which such a
    # checkpoint holds as "ema": resuming takes the teacher from there.
    from ssl_core.trainer import Trainer

    spec = RunSpec.model_validate({"algorithm": "meanteacher", "device": "cpu"})
    trainer = Trainer(spec)
    with torch.no_grad():
        for p in trainer.ema.model.parameters():
            p.add_(1.0)
    trainer.algorithm.load_state_dict({})
    teacher = trainer.algorithm.teacher_model
    for mine, ema in zip(teacher.parameters(), trainer.ema.model.parameters(), strict=True):
        assert torch.equal(mine, ema)

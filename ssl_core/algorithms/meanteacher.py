"""Mean Teacher (Tarvainen & Valpola 2017, arXiv:1703.01780), as USB's ``meanteacher``.

The Π-model with the target made by the teacher — the exponential moving average of the
student's weights (decay α = the spec's ``ema_decay``; the trainer keeps it and evaluates it) —
on one weak view, and the student trained on another: loss = CE(x, y) +
λu·w(t)·mean((softmax(student(u₂)) − softmax(teacher(u₁)))²). The teacher runs in training mode
(batch statistics, as USB's ``ema.apply_shadow()`` on the training model) with its running
statistics left alone. USB's code feeds the teacher's logits to the loss in place of the
student's (``logits_x_ulb_s = outs_x_ulb_w['logits']``), so its unlabeled loss has no gradient;
matchlab uses the student's, as the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Batch, frozen_bn_stats
from ssl_core.algorithms.pimodel import PiModel


class MeanTeacher(PiModel):
    def targets(self, batch: Batch, model: nn.Module) -> torch.Tensor:
        teacher = self.teacher
        if teacher is None:
            raise RuntimeError("meanteacher: no teacher; set Algorithm.teacher to the EMA model")
        was_training = teacher.training
        teacher.train()
        try:
            with torch.no_grad(), frozen_bn_stats(teacher):
                return F.softmax(teacher(batch.u_views[0]).float(), dim=1)
        finally:
            teacher.train(was_training)

"""Mean Teacher (Tarvainen & Valpola 2017, arXiv:1703.01780), as USB's ``meanteacher``.

The Π-model with the target made by the teacher — an exponential moving average of the
student's weights with its own decay α (``hparams.teacher_decay``), apart from the evaluated
EMA (the spec's ``ema_decay``, as for every other method) — on one weak view, and the student
trained on another: loss = CE(x, y) + λu·w(t)·mean((softmax(student(u₂)) − softmax(teacher(u₁)))²).
The teacher runs in training mode (batch statistics, as USB's ``ema.apply_shadow()`` on the
training model) with its running statistics left alone. USB's code feeds the teacher's logits to
the loss in place of the student's (``logits_x_ulb_s = outs_x_ulb_w['logits']``), so its unlabeled
loss has no gradient; matchlab uses the student's, as the paper.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Batch, StepOutput, frozen_bn_stats
from ssl_core.algorithms.pimodel import PiModel

TEACHER = "teacher_model"  # the submodule's name: its weights are saved with the state


class MeanTeacher(PiModel):
    def extra_modules(self, model: nn.Module) -> nn.Module | None:
        """Builds the teacher (a copy of the student's starting weights) as our submodule, so
        checkpoints keep it; nothing for the optimiser."""
        self._build_teacher(model)
        return None

    def _build_teacher(self, model: nn.Module) -> None:
        plain = getattr(model, "_orig_mod", model)  # a compiled wrapper's module
        teacher = copy.deepcopy(plain)
        for p in teacher.parameters():
            p.requires_grad_(False)
        setattr(self, TEACHER, teacher)

    @torch.no_grad()
    def _update_teacher(self, model: nn.Module) -> None:
        """teacher ← α·teacher + (1 − α)·student, BatchNorm buffers copied (as the evaluated
        EMA). Run before each step's targets: the student's weights are then those the last
        step left, so the teacher follows the same sequence as an update after every step."""
        teacher = getattr(self, TEACHER)
        plain = getattr(model, "_orig_mod", model)
        torch._foreach_lerp_(
            list(teacher.parameters()),
            [p.detach() for p in plain.parameters()],
            1.0 - self.hp.teacher_decay,
        )
        for mine, theirs in zip(teacher.buffers(), plain.buffers(), strict=True):
            mine.copy_(theirs)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        if TEACHER not in self._modules:  # used without the trainer (extra_modules not called)
            self._build_teacher(model)
        self._update_teacher(model)
        return super().step(model, batch, step)

    def targets(self, batch: Batch, model: nn.Module) -> torch.Tensor:
        teacher = getattr(self, TEACHER).train()  # batch statistics, as USB
        with torch.no_grad(), frozen_bn_stats(teacher):
            return F.softmax(teacher(batch.u_views[0]).float(), dim=1)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:  # noqa: ANN401 — what nn.Module returns
        """A checkpoint from before the teacher had its own decay holds no teacher: the
        teacher then *was* the evaluated EMA, which the trainer loads first (``self.teacher``)."""
        if TEACHER in self._modules and not any(k.startswith(f"{TEACHER}.") for k in state_dict):
            if self.teacher is not None:
                plain = getattr(self.teacher, "_orig_mod", self.teacher)
                getattr(self, TEACHER).load_state_dict(plain.state_dict())
            state_dict = {
                **state_dict,
                **{f"{TEACHER}.{k}": v for k, v in getattr(self, TEACHER).state_dict().items()},
            }
        return super().load_state_dict(state_dict, strict, assign)

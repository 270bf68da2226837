"""UDA (Xie et al. 2020, arXiv:1904.12848), as USB's ``uda``.

One forward over [labeled; unlabeled weak; unlabeled strong] (USB's ``use_cat``). The weak view's
prediction, sharpened with temperature τ (softmax(z/τ), τ = 0.4), is the soft target of the strong
view where the unsharpened confidence reaches β (0.8): loss_u = mean(mask·CE(strong, target)), the
mean over the whole unlabeled batch; CE against a fixed target has the gradient of the paper's KL.
USB passes probabilities with ``softmax=False`` to its target hook, which then skips the
sharpening; matchlab sharpens, as the paper.

Training signal annealing (TSA, optional as in USB): a labeled sample whose probability of its
correct class exceeds η_t is left out of the labeled loss, η_t = α_t·(1 − 1/K) + 1/K with
α_t = t/T (linear), exp(5(t/T − 1)) (exp) or 1 − exp(−5t/T) (log); the labeled loss is the mean
over the whole labeled batch.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, labeled_weak_strong
from ssl_core.losses import masked_soft_cross_entropy
from ssl_core.thresholds import fixed_mask

SCHEDULES = {
    "linear": lambda progress: progress,
    "exp": lambda progress: math.exp((progress - 1) * 5),
    "log": lambda progress: 1 - math.exp(-progress * 5),
}


def tsa_threshold(schedule: str, step: int, total_steps: int, num_classes: int) -> float:
    """η_t of training signal annealing; 1 (nothing left out) with the schedule ``none``."""
    if schedule == "none":
        return 1.0
    alpha = SCHEDULES[schedule](step / total_steps)
    return alpha * (1 - 1 / num_classes) + 1 / num_classes


def uda_targets(
    logits_weak: Tensor, threshold: float, temperature: float
) -> tuple[Tensor, Tensor, Tensor]:
    """(mask, sharpened soft targets, argmax) from the weak view's logits, without gradient."""
    logits = logits_weak.detach().float()
    mask, pseudo_labels = fixed_mask(F.softmax(logits, dim=1), threshold)
    return mask, F.softmax(logits / temperature, dim=1), pseudo_labels


class UDA(Algorithm):
    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x, logits_weak, logits_strong = labeled_weak_strong(model, batch)
        logits_x = logits_x.float()

        eta = tsa_threshold(self.hp.tsa_schedule, step, self.total_steps, self.num_classes)
        # The paper's and USB's TSA: the probability of the true class, not the top one (a
        # confidently wrong sample is what the labeled loss must keep).
        correct = F.softmax(logits_x.detach(), dim=1).gather(1, batch.y[:, None]).squeeze(1)
        keep_x = (correct <= eta).float()
        loss_x = (F.cross_entropy(logits_x, batch.y, reduction="none") * keep_x).mean()

        mask, targets, pseudo_labels = uda_targets(
            logits_weak, self.hp.threshold, self.hp.temperature
        )
        loss_u = masked_soft_cross_entropy(logits_strong, targets, mask)
        weight = self.hp.unlabeled_weight
        return StepOutput(
            loss=loss_x + weight * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=weight,
            pseudo_labels=pseudo_labels, mask=mask,
        )  # fmt: skip

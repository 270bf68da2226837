"""FreeMatch (Wang et al. 2023, arXiv:2205.07246), as USB's ``freematch``.

FixMatch whose threshold follows the model (self-adaptive thresholding), with the USB
defaults (no quantile, no clip). Every step, before the mask, with momentum λ (0.999) and the
weak view's probabilities p:
  τ_t ← λ·τ_t + (1 − λ)·mean(max p)                  global threshold (starts at 1/C)
  p̃_t ← λ·p̃_t + (1 − λ)·mean(p)                      class-wise mean confidence (starts 1/C)
  h_t ← λ·h_t + (1 − λ)·hist(argmax p)                pseudo-label histogram (starts 1/C)
  mask = max p ≥ τ_t · p̃_t[c] / max_c p̃_t             local threshold of the predicted class c.
Loss = CE(x, y) + λu·mean(mask·CE(strong, argmax p)) + λf·L_f, the self-adaptive fairness term
  L_f = Σ_c SumNorm(p̃_t / h_t)_c · log SumNorm(p̄_s / h̄_s)_c
over the strong-view probabilities p̄_s (mean) and their argmax histogram h̄_s of the kept samples
(1/h = 0 where h = 0; 0 when nothing is kept) — USB's ``entropy_loss`` and the paper's −H(·,·).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, labeled_weak_strong
from ssl_core.losses import masked_cross_entropy


def _sum_norm(x: Tensor) -> Tensor:
    return x / x.sum()


def _inverse_or_zero(x: Tensor) -> Tensor:
    return torch.where(x > 0, 1.0 / x.clamp_min(1e-30), torch.zeros_like(x))


class SelfAdaptiveThreshold(nn.Module):
    """τ_t, p̃_t and h_t: buffers on the device (no host sync per step), saved in checkpoints."""

    def __init__(self, num_classes: int, momentum: float, device: torch.device) -> None:
        super().__init__()
        self.momentum = momentum
        uniform = torch.full((num_classes,), 1.0 / num_classes, device=device)
        self.register_buffer("global_threshold", torch.full((), 1.0 / num_classes, device=device))
        self.register_buffer("class_confidence", uniform.clone())
        self.register_buffer("label_hist", uniform.clone())

    @torch.no_grad()
    def update(self, probs: Tensor) -> None:
        m = self.momentum
        confidence, labels = probs.max(dim=1)
        hist = torch.bincount(labels, minlength=len(self.label_hist)).float() / len(labels)
        self.global_threshold = m * self.global_threshold + (1 - m) * confidence.mean()
        self.class_confidence = m * self.class_confidence + (1 - m) * probs.mean(dim=0)
        self.label_hist = m * self.label_hist + (1 - m) * hist

    def mask(self, probs: Tensor) -> tuple[Tensor, Tensor]:
        confidence, labels = probs.max(dim=1)
        local = self.class_confidence / self.class_confidence.max()
        return (confidence >= self.global_threshold * local[labels]).float(), labels


def fairness_loss(mask: Tensor, logits_strong: Tensor, sat: SelfAdaptiveThreshold) -> Tensor:
    """L_f over the kept rows, without a data-dependent shape (so no host sync)."""
    probs = F.softmax(logits_strong.float(), dim=1)
    kept = mask.sum()
    hist = (F.one_hot(probs.argmax(1), probs.shape[1]).float() * mask[:, None]).sum(0)
    hist = hist / kept.clamp_min(1)
    mean_probs = (probs * mask[:, None]).sum(0) / kept.clamp_min(1)
    target = _sum_norm(sat.class_confidence * _inverse_or_zero(sat.label_hist))
    modulated = mean_probs * _inverse_or_zero(hist).detach()
    modulated = modulated / modulated.sum().clamp_min(1e-30)
    loss = (target * torch.log(modulated + 1e-12)).sum()
    return torch.where(kept > 0, loss, torch.zeros_like(loss))


class FreeMatch(Algorithm):
    def __init__(self, spec, num_classes, num_unlabeled, device) -> None:  # noqa: ANN001
        super().__init__(spec, num_classes, num_unlabeled, device)
        self.sat = SelfAdaptiveThreshold(num_classes, self.hp.ema_momentum, device)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x, logits_weak, logits_strong = labeled_weak_strong(model, batch)

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        probs = F.softmax(logits_weak.detach().float(), dim=1)
        self.sat.update(probs)  # as USB: this step's batch moves the thresholds before the mask
        mask, pseudo_labels = self.sat.mask(probs)
        loss_u = masked_cross_entropy(logits_strong, pseudo_labels, mask)
        loss_f = fairness_loss(mask, logits_strong, self.sat)
        loss = loss_x + self.hp.unlabeled_weight * loss_u + self.hp.fairness_weight * loss_f
        return StepOutput(
            loss=loss, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=self.hp.unlabeled_weight,
            pseudo_labels=pseudo_labels, mask=mask,
        )  # fmt: skip

"""SoftMatch (Chen et al. 2023, arXiv:2301.10921), as USB's ``softmatch``.

FixMatch with a soft weight per sample in place of the 0/1 mask. With momentum m (0.999) and the
weak view's probabilities p:
  uniform alignment (UA): p̂_t ← m·p̂_t + (1 − m)·mean(p) (the first batch's mean to start),
      p ← normalise(p · (1/C) / p̂_t) (with USB's +1e-6 in both);
  μ_t ← m·μ_t + (1 − m)·mean(max p),  σ²_t ← m·σ²_t + (1 − m)·var(max p) (unbiased; μ₀ = 1/C,
      σ²₀ = 1);
  weight = exp(−min(max p − μ_t, 0)² / (2σ²_t / n_sigma²)): 1 above the mean, a truncated
      Gaussian below it.
Loss = CE(x, y) + λu·mean(weight·CE(strong, ŷ)), ŷ = argmax of the weak view's *unaligned*
prediction (as USB). ``train/mask_ratio`` is the mean weight (USB's util_ratio).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, labeled_weak_strong
from ssl_core.losses import masked_cross_entropy


class DistributionAlignment(nn.Module):
    """p ← normalise(p · target / p̂), p̂ ← m·p̂ + (1 − m)·mean(p) updated with the batch first
    (the first batch's mean to start): USB's ``DistAlignEMAHook``, +1e-6 in both. The target is
    uniform (SoftMatch) or the labeled class distribution (ReMixMatch; uniform here too, as
    matchlab's labeled sets are class-balanced). p̂ and whether it started are buffers."""

    def __init__(self, num_classes: int, momentum: float, device: torch.device) -> None:
        super().__init__()
        self.momentum = momentum
        target = torch.full((num_classes,), 1.0 / num_classes, device=device)
        self.register_buffer("target", target, persistent=False)  # a constant: not saved
        self.register_buffer("class_mean", target.clone())
        self.register_buffer("started", torch.zeros((), dtype=torch.bool, device=device))

    @torch.no_grad()
    def forward(self, probs: Tensor) -> Tensor:
        m, batch_mean = self.momentum, probs.mean(dim=0)
        self.class_mean = torch.where(
            self.started, m * self.class_mean + (1 - m) * batch_mean, batch_mean
        )
        self.started = torch.ones_like(self.started)
        aligned = probs * (self.target + 1e-6) / (self.class_mean + 1e-6)
        return aligned / aligned.sum(dim=1, keepdim=True)


class TruncatedGaussianWeight(nn.Module):
    """μ_t and σ²_t: buffers on the device, saved in checkpoints."""

    def __init__(
        self, num_classes: int, momentum: float, n_sigma: float, device: torch.device
    ) -> None:
        super().__init__()
        self.momentum, self.n_sigma = momentum, n_sigma
        self.register_buffer("mean", torch.full((), 1.0 / num_classes, device=device))
        self.register_buffer("variance", torch.ones((), device=device))

    @torch.no_grad()
    def weights(self, probs: Tensor) -> Tensor:
        m, confidence = self.momentum, probs.max(dim=1).values
        self.mean = m * self.mean + (1 - m) * confidence.mean()
        # One sample has no unbiased variance (NaN): it leaves the estimate as it was.
        batch_variance = confidence.var(unbiased=True) if len(confidence) > 1 else self.variance
        self.variance = m * self.variance + (1 - m) * batch_variance
        below = (confidence - self.mean).clamp(max=0.0)
        return torch.exp(-(below**2) / (2 * self.variance / self.n_sigma**2))


class SoftMatch(Algorithm):
    def __init__(self, spec, num_classes, num_unlabeled, device) -> None:  # noqa: ANN001
        super().__init__(spec, num_classes, num_unlabeled, device)
        self.alignment = DistributionAlignment(num_classes, self.hp.ema_momentum, device)
        self.weighting = TruncatedGaussianWeight(
            num_classes, self.hp.ema_momentum, self.hp.n_sigma, device
        )

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x, logits_weak, logits_strong = labeled_weak_strong(model, batch)

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        probs = F.softmax(logits_weak.detach().float(), dim=1)
        aligned = self.alignment(probs) if self.hp.uniform_alignment else probs
        weight = self.weighting.weights(aligned)
        pseudo_labels = probs.argmax(dim=1)
        loss_u = masked_cross_entropy(logits_strong, pseudo_labels, weight)
        lam = self.hp.unlabeled_weight
        return StepOutput(
            loss=loss_x + lam * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=lam,
            pseudo_labels=pseudo_labels, mask=weight,  # the soft weight is the mask
        )  # fmt: skip

"""MixMatch (Berthelot et al. 2019, arXiv:1905.02249).

Guess labels for K weak views of each unlabeled image (average, sharpen with temperature T), mix
labeled and unlabeled rows with one λ per batch (λ' = max(λ, 1 − λ), λ ~ Beta(α, α), or the seed's
fixed λ), forward in interleaved B-sized chunks so BatchNorm sees both kinds in every chunk, and
combine CE on the labeled rows with λu·w(t)·MSE on the rest, w ramping linearly from 0 to 1.

BatchNorm's running statistics are updated once a step, by the first interleaved chunk: the
original collects them from the first batch only and USB freezes them for the guess and the other
chunks. The seed updated them on every pass, four times a step (``bn_stats_every_pass``, the
``tutorial`` preset), which makes short MixMatch runs look better next to the other methods.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, frozen_bn_stats
from ssl_core.losses import mse_probs, soft_cross_entropy
from ssl_core.ops import interleave, mixup, sharpen


class MixMatch(Algorithm):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 — Algorithm's signature
        super().__init__(*args, **kwargs)
        self._beta = torch.distributions.Beta(
            torch.tensor(self.hp.mixup_alpha), torch.tensor(self.hp.mixup_alpha)
        )

    def mix_ratio(self) -> float:
        if self.hp.fixed_mixup_lambda is not None:
            return self.hp.fixed_mixup_lambda  # the seed's ablation uses it as given
        lam = float(self._beta.sample())  # drawn from torch's RNG, so seeded and resumable
        return max(lam, 1.0 - lam)

    def rampup(self, step: int) -> float:
        if self.hp.rampup_iters == 0:
            return 1.0
        return min(step / self.hp.rampup_iters, 1.0)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        x, views = batch.x, batch.u_views
        b = x.shape[0]
        once = not self.hp.bn_stats_every_pass
        with torch.no_grad(), frozen_bn_stats(model, once):
            logits_views = model(torch.cat(views)).float()  # (K·μB, classes)
            probs = F.softmax(logits_views, dim=1).view(len(views), -1, self.num_classes).mean(0)
            guess = sharpen(probs, self.hp.temperature)  # (μB, classes)

        inputs = torch.cat([x, *views])  # ((K + 1)·B, C, H, W) when μ = 1
        targets = torch.cat([F.one_hot(batch.y, self.num_classes).float(), *([guess] * len(views))])
        perm = torch.randperm(inputs.shape[0], device=inputs.device)
        mixed_x, mixed_t = mixup(inputs, targets, self.mix_ratio(), perm)

        chunks = interleave(list(torch.split(mixed_x, b)), b)
        logits = [model(chunks[0])]  # the one pass that updates BatchNorm's running statistics
        with frozen_bn_stats(model, once):
            logits += [model(chunk) for chunk in chunks[1:]]
        logits = interleave(logits, b)
        logits_x, logits_u = logits[0], torch.cat(logits[1:])

        loss_x = soft_cross_entropy(logits_x, mixed_t[:b])
        loss_u = mse_probs(logits_u, mixed_t[b:])
        weight = self.hp.unlabeled_weight * self.rampup(step)
        return StepOutput(
            loss=loss_x + weight * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=weight,
            pseudo_labels=guess.argmax(1),  # no mask: every guess enters the loss
        )  # fmt: skip

"""ReMixMatch (Berthelot et al. 2020, arXiv:1911.09785), as USB's ``remixmatch``.

1. Guess without gradient (BatchNorm statistics untouched) from the weak view: distribution
   alignment of the softmax to the labeled class distribution (EMA of the model's mean, as USB),
   then sharpening p^(1/T). Augmentation anchoring: that one guess q is the target of every
   strong view (two, as USB; RandAugment in place of CTAugment).
2. MixUp [x; s₀; s₁; weak] with [onehot(y); q; q; q]: one λ' = max(λ, 1 − λ), λ ~ Beta(α, α),
   and one permutation; forward in B-sized chunks, the first updating BatchNorm's statistics
   (USB does not interleave here). Loss = CE(mixed labeled) + λU·w·CE(mixed unlabeled)
   + λÛ1·w·CE(s₀ unmixed, q) + λr·CE(rotation head(s₀ rotated by 0/90/180/270°), angle),
   w ramping linearly over the first ``unlabeled_warmup`` share of the run (USB: 1/64).
The rotation head is a linear layer on the features the net's last layer ``fc`` receives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, frozen_bn_stats
from ssl_core.algorithms.softmatch import DistributionAlignment
from ssl_core.losses import soft_cross_entropy
from ssl_core.ops import mixup, sharpen


def rotate(images: Tensor) -> tuple[Tensor, Tensor]:
    """Each image turned by a random multiple of 90° (square images); returns it and k ∈ 0..3."""
    turns = torch.randint(0, 4, (len(images),), device=images.device)
    rotated = images
    for k in (1, 2, 3):
        pick = (turns == k).view(-1, 1, 1, 1)
        rotated = torch.where(pick, torch.rot90(images, k, dims=(2, 3)), rotated)
    return rotated, turns


class ReMixMatch(Algorithm):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 — Algorithm's signature
        super().__init__(*args, **kwargs)
        self.alignment = DistributionAlignment(
            self.num_classes, self.hp.alignment_momentum, self.device
        )
        a = torch.tensor(self.hp.mixup_alpha)
        self._beta = torch.distributions.Beta(a, a)
        self.rotation_head: nn.Linear | None = None

    def extra_modules(self, model: nn.Module) -> nn.Module | None:
        if self.hp.rotation_weight == 0:
            return None
        fc = getattr(model, "fc", None)
        if not isinstance(fc, nn.Linear):
            raise ValueError("hparams.rotation_weight: the rotation head needs a net whose last "
                             "layer is a Linear named fc (cnn_small, wrn_*); or set it to 0")  # fmt: skip
        self.rotation_head = nn.Linear(fc.in_features, 4).to(self.device)
        return self.rotation_head

    def guess(self, model: nn.Module, weak: Tensor) -> Tensor:
        with torch.no_grad(), frozen_bn_stats(model):
            probs = F.softmax(model(weak).float(), dim=1)
        return sharpen(self.alignment(probs), self.hp.temperature)

    def rotation_loss(self, model: nn.Module, images: Tensor) -> Tensor:
        rotated, turns = rotate(images)
        features: list[Tensor] = []
        hook = model.fc.register_forward_hook(lambda m, inputs, out: features.append(inputs[0]))
        try:
            with frozen_bn_stats(model):
                model(rotated)
        finally:
            hook.remove()
        return F.cross_entropy(self.rotation_head(features[0]).float(), turns)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        x, b = batch.x, batch.x.shape[0]
        weak, strong0, strong1 = batch.u_views
        guess = self.guess(model, weak)  # (μB, classes)
        with frozen_bn_stats(model):
            logits_s0 = model(strong0)

        inputs = torch.cat([x, strong0, strong1, weak])  # (B + 3μB, C, H, W)
        targets = torch.cat([F.one_hot(batch.y, self.num_classes).float(), guess, guess, guess])
        lam = float(self._beta.sample())
        perm = torch.randperm(len(inputs), device=inputs.device)
        mixed_x, mixed_t = mixup(inputs, targets, max(lam, 1 - lam), perm)
        chunks = torch.split(mixed_x, b)
        logits = [model(chunks[0])]  # the one pass that updates BatchNorm's running statistics
        with frozen_bn_stats(model):
            logits += [model(chunk) for chunk in chunks[1:]]
        logits_u = torch.cat(logits[1:])

        loss_x = soft_cross_entropy(logits[0], mixed_t[:b])
        loss_u = soft_cross_entropy(logits_u, mixed_t[b:])
        loss_s0 = soft_cross_entropy(logits_s0, guess)
        w = self.linear_rampup(step, self.hp.unlabeled_warmup)
        loss = (
            loss_x
            + self.hp.unlabeled_weight * w * loss_u
            + self.hp.strong_view_weight * w * loss_s0
        )
        if self.rotation_head is not None:
            loss = loss + self.hp.rotation_weight * self.rotation_loss(model, strong0)
        return StepOutput(
            loss=loss, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=self.hp.unlabeled_weight * w,
            pseudo_labels=guess.argmax(1),  # no mask: every guess enters the loss
        )  # fmt: skip

"""Exponential moving average of the weights; the EMA model is what gets evaluated."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """Parameters averaged (decay d: ema ← d·ema + (1 − d)·θ); BatchNorm buffers copied."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        ema_buffers = list(self.model.buffers())
        if ema_buffers:
            torch._foreach_copy_(ema_buffers, list(model.buffers()))

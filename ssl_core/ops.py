"""Small tensor operations shared by the algorithms, each checkable by hand."""

from __future__ import annotations

import torch
from torch import Tensor


def sharpen(probs: Tensor, temperature: float) -> Tensor:
    """p^(1/T), renormalised per row (MixMatch's temperature sharpening, T → 0 gives one-hot)."""
    powered = probs ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


def mixup(x: Tensor, y: Tensor, lam: float, perm: Tensor) -> tuple[Tensor, Tensor]:
    """Mix every row with its partner ``perm[i]``: λ·a + (1 − λ)·b, for inputs and targets alike."""
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


def _offsets(batch_size: int, num_chunks: int) -> list[int]:
    groups = [batch_size // num_chunks] * num_chunks
    for i in range(batch_size - sum(groups)):
        groups[-i - 1] += 1
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + g)
    return offsets


def interleave(chunks: list[Tensor], batch_size: int) -> list[Tensor]:
    """Swap row groups between chunks so each chunk holds rows of every source.

    Chunk i gives its i-th group of rows to chunk 0 and takes chunk 0's i-th group. Applying it
    twice restores the input, so the same call un-interleaves the logits.
    """
    offsets = _offsets(batch_size, len(chunks))
    parts = [[c[offsets[p] : offsets[p + 1]] for p in range(len(chunks))] for c in chunks]
    for i in range(1, len(chunks)):
        parts[0][i], parts[i][i] = parts[i][i], parts[0][i]
    return [torch.cat(p, dim=0) for p in parts]

"""Augmentation of whole batches on the training device (no per-image Python, no PIL).

Images are float tensors in [0, 1], shape (N, C, H, W). Weak: reflect-pad + random crop, flip,
and the seed's gaussian noise (added after normalisation, as the seed does). Strong: RandAugment
with an independent op and magnitude per image, then Cutout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

NOISE_STD = 0.15  # the seed's GaussianNoise, in normalised units
GREY = 0.5  # fill for Cutout and for pixels that geometric ops bring in


def _reflect(q: Tensor, size: int) -> Tensor:
    """Source index of padded position ``q`` under reflect padding (no edge repeat), pad < size."""
    q = q.abs()
    return torch.where(q > size - 1, 2 * (size - 1) - q, q)


def _crop_flip(x: Tensor, pad: int | None, flip: bool) -> Tensor:
    """Random crop after reflect padding and/or horizontal flip, as one gather per image.

    Builds the source pixel of every output pixel instead of padding, cropping and flipping whole
    tensors: one pass over the data, and it works on uint8 (4× less memory traffic than float).
    Draws top, left, then the flip coin, like the crop-then-flip it replaces.
    """
    n, c, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev).expand(n, h)
    cols = torch.arange(w, device=dev).expand(n, w)
    if pad is not None:
        top = torch.randint(0, 2 * pad + 1, (n, 1), device=dev)
        left = torch.randint(0, 2 * pad + 1, (n, 1), device=dev)
        rows = _reflect(top + rows - pad, h)
        cols = _reflect(left + cols - pad, w)
    if flip:
        flipped = torch.rand(n, 1, device=dev) < 0.5
        cols = torch.where(flipped, cols.flip(1), cols)
    index = (rows[:, :, None] * w + cols[:, None, :]).view(n, 1, h * w)  # (N, 1, H·W)
    out = x.reshape(n, c, h * w).gather(2, index.expand(n, c, h * w))
    return out.view(n, c, h, w)


def random_crop(x: Tensor, pad: int) -> Tensor:
    """Reflect-pad by ``pad`` and take a random crop of the original size, per image."""
    return _crop_flip(x, pad, flip=False)


def random_flip(x: Tensor) -> Tensor:
    return _crop_flip(x, None, flip=True)


def crop_padding(image_size: int) -> int:
    """4 px on 32×32, 12.5 % of the side otherwise (1 px on digits' 8×8)."""
    return max(1, round(image_size * 0.125))


def weak_augment(x: Tensor, ops: list[str]) -> Tensor:
    """Apply the geometric weak augmentations named in ``ops`` (noise is added after normalising).

    Any dtype: the trainer crops and flips uint8 images before converting them to float.
    """
    crop, flip = "crop" in ops, "flip" in ops
    if not (crop or flip):
        return x
    return _crop_flip(x, crop_padding(x.shape[-1]) if crop else None, flip)


def add_noise(x: Tensor) -> Tensor:
    return x + NOISE_STD * torch.randn_like(x)


# ---- RandAugment ops: each takes images (n, C, H, W) in [0, 1] and magnitudes m (n,) in [0, 1].


def _blend(a: Tensor, b: Tensor, factor: Tensor) -> Tensor:
    """PIL's ImageEnhance: b + factor·(a − b), clamped."""
    return (b + factor.view(-1, 1, 1, 1) * (a - b)).clamp(0, 1)


def _grey(x: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
    return (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _enhance_factor(m: Tensor) -> Tensor:
    return 0.05 + 1.9 * m  # 0.05 … 1.95, 1 = unchanged


def _signed(m: Tensor) -> Tensor:
    """Random sign so rotations, shears and shifts go both ways."""
    return m * torch.where(torch.rand_like(m) < 0.5, -1.0, 1.0)


def _affine(x: Tensor, theta: Tensor) -> Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Sample x − grey with zero padding so pixels brought in from outside come out grey.
    return F.grid_sample(x - GREY, grid, align_corners=False, padding_mode="zeros") + GREY


def _identity_theta(n: int, x: Tensor) -> Tensor:
    return torch.eye(2, 3, device=x.device, dtype=x.dtype).repeat(n, 1, 1)


def op_identity(x: Tensor, m: Tensor) -> Tensor:
    return x


def op_autocontrast(x: Tensor, m: Tensor) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(high > low, 1.0 / (high - low), torch.ones_like(high))
    return torch.where(high > low, (x - low) * scale, x)


def op_equalize(x: Tensor, m: Tensor) -> Tensor:
    """Histogram equalisation per image and channel, through a 256-entry lookup table."""
    n, c, h, w = x.shape
    levels = (x * 255).round().long().view(n * c, h * w)
    hist = torch.zeros(n * c, 256, device=x.device).scatter_add_(
        1, levels, torch.ones_like(levels, dtype=torch.float32)
    )
    cdf = hist.cumsum(1)
    cdf_min = torch.where(hist > 0, cdf, torch.full_like(cdf, float(h * w))).amin(1, keepdim=True)
    lut = ((cdf - cdf_min) / (h * w - cdf_min).clamp(min=1)).clamp(0, 1)
    return lut.gather(1, levels).view(n, c, h, w).to(x.dtype)


def _rotate_theta(m: Tensor, x: Tensor) -> Tensor:
    angle = _signed(m) * math.radians(30)
    theta = _identity_theta(len(x), x)
    theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
    theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    return theta


def op_rotate(x: Tensor, m: Tensor) -> Tensor:
    return _affine(x, _rotate_theta(m, x))


def op_solarize(x: Tensor, m: Tensor) -> Tensor:
    threshold = (1.0 - m).view(-1, 1, 1, 1)  # stronger = lower threshold
    return torch.where(x >= threshold, 1.0 - x, x)


def op_color(x: Tensor, m: Tensor) -> Tensor:
    return _blend(x, _grey(x).expand_as(x), _enhance_factor(m))


def op_posterize(x: Tensor, m: Tensor) -> Tensor:
    bits = (8 - (m * 4).round()).long()  # 8 … 4 bits kept
    mask = (255 << (8 - bits)) & 255
    return ((x * 255).round().long() & mask.view(-1, 1, 1, 1)).to(x.dtype) / 255


def op_contrast(x: Tensor, m: Tensor) -> Tensor:
    mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean.expand_as(x), _enhance_factor(m))


def op_brightness(x: Tensor, m: Tensor) -> Tensor:
    return _blend(x, torch.zeros_like(x), _enhance_factor(m))


def op_sharpness(x: Tensor, m: Tensor) -> Tensor:
    kernel = torch.tensor([[1, 1, 1], [1, 5, 1], [1, 1, 1]], device=x.device, dtype=x.dtype) / 13
    c = x.shape[1]
    smooth = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel.expand(c, 1, 3, 3), groups=c)
    return _blend(x, smooth, _enhance_factor(m))


def _shear_theta(m: Tensor, x: Tensor, axis: int) -> Tensor:
    theta = _identity_theta(len(x), x)
    theta[:, axis, 1 - axis] = _signed(m) * 0.3
    return theta


def _shear_x_theta(m: Tensor, x: Tensor) -> Tensor:
    return _shear_theta(m, x, 0)


def _shear_y_theta(m: Tensor, x: Tensor) -> Tensor:
    return _shear_theta(m, x, 1)


def op_shear_x(x: Tensor, m: Tensor) -> Tensor:
    return _affine(x, _shear_x_theta(m, x))


def op_shear_y(x: Tensor, m: Tensor) -> Tensor:
    return _affine(x, _shear_y_theta(m, x))


def _translate_theta(m: Tensor, x: Tensor, axis: int) -> Tensor:
    theta = _identity_theta(len(x), x)
    theta[:, axis, 2] = _signed(m) * 0.3 * 2  # affine_grid spans [-1, 1]: 0.3 of the side
    return theta


def _translate_x_theta(m: Tensor, x: Tensor) -> Tensor:
    return _translate_theta(m, x, 0)


def _translate_y_theta(m: Tensor, x: Tensor) -> Tensor:
    return _translate_theta(m, x, 1)


def op_translate_x(x: Tensor, m: Tensor) -> Tensor:
    return _affine(x, _translate_x_theta(m, x))


def op_translate_y(x: Tensor, m: Tensor) -> Tensor:
    return _affine(x, _translate_y_theta(m, x))


RAND_AUGMENT_OPS = (
    op_identity,
    op_autocontrast,
    op_equalize,
    op_rotate,
    op_solarize,
    op_color,
    op_posterize,
    op_contrast,
    op_brightness,
    op_sharpness,
    op_shear_x,
    op_shear_y,
    op_translate_x,
    op_translate_y,
)


# The geometric ops are one affine warp each: rand_augment builds their matrices op by op and
# warps all their images with a single grid_sample, so they run last and side by side.
_AFFINE_THETAS = {
    op_rotate: _rotate_theta,
    op_shear_x: _shear_x_theta,
    op_shear_y: _shear_y_theta,
    op_translate_x: _translate_x_theta,
    op_translate_y: _translate_y_theta,
}
_RUN_ORDER = sorted(
    range(len(RAND_AUGMENT_OPS)), key=lambda k: RAND_AUGMENT_OPS[k] in _AFFINE_THETAS
)
_RUN_RANK = [_RUN_ORDER.index(k) for k in range(len(RAND_AUGMENT_OPS))]


def rand_augment(
    x: Tensor, num_ops: int, return_ops: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """RandAugment: each image independently gets ``num_ops`` ops with random magnitudes.

    Loops over the 14 op kinds (not over images). Each round sorts the images by the op they
    drew, runs each op once on its contiguous slice (the five geometric ops share one warp) and
    puts the images back in place: two copies of the batch per round instead of one per op, and
    one host sync for the op counts where per-op ``nonzero`` would sync 13 times a round on a
    GPU. Images of one op keep their original order and the ops draw their random signs in op
    order, so the result is exactly that of running each op on its own selection.
    With ``return_ops`` also returns the chosen op indices, shape (num_ops, N).
    """
    n = x.shape[0]
    kinds = len(RAND_AUGMENT_OPS)
    chosen = torch.randint(0, kinds, (num_ops, n), device=x.device)
    magnitudes = torch.rand(num_ops, n, device=x.device, dtype=x.dtype)
    rounds = torch.arange(num_ops, device=x.device)[:, None]
    counts = torch.bincount((chosen + kinds * rounds).flatten(), minlength=num_ops * kinds)
    counts = counts.view(num_ops, kinds).tolist()  # the one host sync
    rank = torch.tensor(_RUN_RANK, device=x.device)
    positions = torch.arange(n, device=x.device)
    for round_ in range(num_ops):
        order = torch.argsort(rank[chosen[round_]], stable=True)
        grouped = x.index_select(0, order)
        m = magnitudes[round_].index_select(0, order)
        pieces, thetas, start, warp_start = [], [], 0, None
        for k in _RUN_ORDER:
            size = counts[round_][k]
            if not size:
                continue
            op, rows, m_rows = (
                RAND_AUGMENT_OPS[k],
                grouped[start : start + size],
                m[start : start + size],
            )
            if op in _AFFINE_THETAS:
                warp_start = start if warp_start is None else warp_start
                thetas.append(_AFFINE_THETAS[op](m_rows, rows))
            else:
                pieces.append(op(rows, m_rows))
            start += size
        if thetas:
            pieces.append(_affine(grouped[warp_start:], torch.cat(thetas)))
        back = torch.empty_like(order).scatter_(0, order, positions)  # inverse permutation
        x = torch.cat(pieces).index_select(0, back)
    return (x, chosen) if return_ops else x


def cutout(x: Tensor, fraction: float) -> Tensor:
    """A grey square of side ``fraction`` × image side at a random centre per image."""
    if fraction <= 0:
        return x
    n, _, h, w = x.shape
    side = max(1, round(fraction * min(h, w)))
    cy = torch.randint(0, h, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy).abs() <= side // 2) & ((xs - cx).abs() <= side // 2)
    if side % 2 == 0:  # an even side: drop one row and column so the square is side × side
        inside &= (ys - cy < side // 2) & (xs - cx < side // 2)
    return torch.where(inside.unsqueeze(1), GREY, x)


def strong_augment(x: Tensor, num_ops: int, cutout_fraction: float) -> Tensor:
    return cutout(rand_augment(x, num_ops), cutout_fraction)

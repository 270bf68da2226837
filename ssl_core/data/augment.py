"""Augmentation of whole batches on the training device (no per-image Python, no PIL).

Images are float tensors in [0, 1], shape (N, C, H, W). Weak: reflect-pad + random crop, flip,
and the seed's gaussian noise (added after normalisation, as the seed does). Strong: RandAugment
with an independent op and magnitude per image, then Cutout.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

NOISE_STD = 0.15  # the seed's GaussianNoise, in normalised units
GREY = 0.5  # fill for Cutout and for pixels that geometric ops bring in


@functools.cache
def _constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A small constant tensor, made once per device: copying it from the host on every call
    would make the host wait for the GPU each time."""
    return torch.tensor(values, device=device, dtype=dtype)


def _reflect(q: Tensor, size: int) -> Tensor:
    """Source index of padded position ``q`` under reflect padding (no edge repeat), pad < size."""
    q = q.abs()
    return torch.where(q > size - 1, 2 * (size - 1) - q, q)


def _crop_flip(x: Tensor, pad: int | None, flip: bool) -> Tensor:
    """Random crop after reflect padding and/or horizontal flip, as index gathers.

    Builds the source row and column of every output pixel instead of padding, cropping and
    flipping whole tensors, and works on uint8 (4× less memory traffic than float).
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
    # Rows first, as whole rows of W pixels; then the columns, per image.
    image_rows = (torch.arange(n * c, device=dev).view(n, c, 1) * h + rows[:, None, :]).view(-1)
    out = x.reshape(n * c * h, w).index_select(0, image_rows).view(n, c * h, w)
    return out.gather(2, cols[:, None, :].expand(n, c * h, w)).view(n, c, h, w)


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
    """PIL's ImageEnhance: b + factor·(a − b), clamped (in place on one new tensor)."""
    return (a - b).mul_(factor.view(-1, 1, 1, 1)).add_(b).clamp_(0, 1)


def _grey(x: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    weights = _constant((0.299, 0.587, 0.114), x.device, x.dtype)
    return (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _enhance_factor(m: Tensor) -> Tensor:
    return 0.05 + 1.9 * m  # 0.05 … 1.95, 1 = unchanged


def _signed(m: Tensor) -> Tensor:
    """Random sign so rotations, shears and shifts go both ways."""
    return m * torch.where(torch.rand_like(m) < 0.5, -1.0, 1.0)


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
    """Blend with PIL's SMOOTH filter (3×3, centre 5, the rest 1, over 13)."""
    kernel = _constant(((1, 1, 1), (1, 5, 1), (1, 1, 1)), x.device, x.dtype) / 13
    h, w = x.shape[2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    # The 3×3 sum as nine multiply-adds in row-major order: what a depthwise conv2d computes
    # (bit for bit on the CPU) without a oneDNN primitive per batch size, which made each
    # call with a new number of images slow.
    smooth = padded[:, :, :h, :w] * kernel[0, 0]
    for i, j in [(i, j) for i in range(3) for j in range(3)][1:]:
        smooth.addcmul_(padded[:, :, i : i + h, j : j + w], kernel[i, j])
    return _blend(x, smooth, _enhance_factor(m))


# ---- geometric ops: one affine warp each, described by a kind and a signed magnitude s.

ROTATE, SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y = range(5)


def _affine_theta(s: Tensor, kind: Tensor) -> Tensor:
    """(N, 2, 3) matrices: rotate by s·30°, shear by s·0.3, shift by s·0.3 of the side."""
    angle = s * math.radians(30)
    cos, sin = angle.cos(), angle.sin()
    shear, shift = s * 0.3, s * 0.3 * 2  # affine_grid spans [-1, 1]: 0.3 of the side
    one, zero = torch.ones_like(s), torch.zeros_like(s)
    rotate = kind == ROTATE
    rows = [
        torch.where(rotate, cos, one),
        torch.where(rotate, -sin, torch.where(kind == SHEAR_X, shear, zero)),
        torch.where(kind == TRANSLATE_X, shift, zero),
        torch.where(rotate, sin, torch.where(kind == SHEAR_Y, shear, zero)),
        torch.where(rotate, cos, one),
        torch.where(kind == TRANSLATE_Y, shift, zero),
    ]
    return torch.stack(rows, dim=1).view(-1, 2, 3)


def _affine_grid(theta: Tensor, h: int, w: int) -> Tensor:
    """``F.affine_grid(theta, (N, C, h, w), align_corners=False)`` without its batched matmul.

    The same base grid and the same sum (x·θ0 + y·θ1 + θ2), as broadcast multiply-adds laid out
    (N, 2, H, W) so they vectorise along W: equal values (bit for bit on the CPU), at a quarter
    of the cost for a few hundred 32×32 images.
    """
    xs = torch.linspace(-1, 1, w, device=theta.device, dtype=theta.dtype) * (w - 1) / w
    ys = torch.linspace(-1, 1, h, device=theta.device, dtype=theta.dtype) * (h - 1) / h
    t = theta[:, :, None, None, :]  # (N, 2, 1, 1, 3)
    grid = xs[None, None, None, :] * t[..., 0] + ys[None, None, :, None] * t[..., 1] + t[..., 2]
    return grid.permute(0, 2, 3, 1).contiguous()  # (N, H, W, 2)


def _warp(x: Tensor, s: Tensor, kind: Tensor) -> Tensor:
    grid = _affine_grid(_affine_theta(s, kind), x.shape[2], x.shape[3])
    # Sample x − grey with zero padding so pixels brought in from outside come out grey.
    return F.grid_sample(x - GREY, grid, align_corners=False, padding_mode="zeros").add_(GREY)


def _kind(m: Tensor, kind: int) -> Tensor:
    return torch.full_like(m, kind, dtype=torch.long)


def op_rotate(x: Tensor, m: Tensor) -> Tensor:
    return _warp(x, _signed(m), _kind(m, ROTATE))


def op_shear_x(x: Tensor, m: Tensor) -> Tensor:
    return _warp(x, _signed(m), _kind(m, SHEAR_X))


def op_shear_y(x: Tensor, m: Tensor) -> Tensor:
    return _warp(x, _signed(m), _kind(m, SHEAR_Y))


def op_translate_x(x: Tensor, m: Tensor) -> Tensor:
    return _warp(x, _signed(m), _kind(m, TRANSLATE_X))


def op_translate_y(x: Tensor, m: Tensor) -> Tensor:
    return _warp(x, _signed(m), _kind(m, TRANSLATE_Y))


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


# rand_augment runs the geometric ops last and side by side: their images share one warp.
_GEOMETRIC_KIND = {
    op_rotate: ROTATE,
    op_shear_x: SHEAR_X,
    op_shear_y: SHEAR_Y,
    op_translate_x: TRANSLATE_X,
    op_translate_y: TRANSLATE_Y,
}
_RUN_ORDER = sorted(
    range(len(RAND_AUGMENT_OPS)), key=lambda k: RAND_AUGMENT_OPS[k] in _GEOMETRIC_KIND
)
_RUN_RANK = [_RUN_ORDER.index(k) for k in range(len(RAND_AUGMENT_OPS))]


def _inverse(order: Tensor) -> Tensor:
    positions = torch.arange(len(order), device=order.device)
    return torch.empty_like(order).scatter_(0, order, positions)


def _rand_augment_grouped(x: Tensor, num_ops: int) -> tuple[Tensor, Tensor, Tensor]:
    """RandAugment, leaving the images grouped by their last op: (images, order, chosen ops)
    with ``images[p]`` the augmented input image ``order[p]``."""
    n = x.shape[0]
    num_kinds = len(RAND_AUGMENT_OPS)
    chosen = torch.randint(0, num_kinds, (num_ops, n), device=x.device)
    magnitudes = torch.rand(num_ops, n, device=x.device, dtype=x.dtype)
    rounds = torch.arange(num_ops, device=x.device)[:, None]
    counts = torch.bincount((chosen + num_kinds * rounds).flatten(), minlength=num_ops * num_kinds)
    counts = counts.view(num_ops, num_kinds).tolist()  # the one host sync
    rank = _constant(tuple(_RUN_RANK), x.device, torch.long)
    order = torch.arange(n, device=x.device)  # x[p] is input image order[p]
    for round_ in range(num_ops):
        new_order = torch.argsort(rank[chosen[round_]], stable=True)  # grouped by op
        grouped = x.index_select(0, _inverse(order).index_select(0, new_order))
        order = new_order
        m = magnitudes[round_].index_select(0, order)
        pieces, signed, warp_kinds, start, warp_start = [], [], [], 0, None
        for k in _RUN_ORDER:
            size = counts[round_][k]
            if not size:
                continue
            op, rows, m_rows = (
                RAND_AUGMENT_OPS[k],
                grouped[start : start + size],
                m[start : start + size],
            )
            if op in _GEOMETRIC_KIND:
                warp_start = start if warp_start is None else warp_start
                signed.append(_signed(m_rows))  # drawn op by op, as each op would
                warp_kinds.append(_kind(m_rows, _GEOMETRIC_KIND[op]))
            else:
                pieces.append(op(rows, m_rows))
            start += size
        if signed:
            pieces.append(_warp(grouped[warp_start:], torch.cat(signed), torch.cat(warp_kinds)))
        x = torch.cat(pieces)
    return x, order, chosen


def rand_augment(
    x: Tensor, num_ops: int, return_ops: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """RandAugment: each image independently gets ``num_ops`` ops with random magnitudes.

    Loops over the 14 op kinds (not over images). Each round sorts the images by the op they
    drew and runs each op once on its contiguous slice (the five geometric ops share one warp);
    the images go back in place at the end: one copy of the batch per round instead of one per
    op, and one host sync for the op counts where per-op ``nonzero`` would sync 13 times a round
    on a GPU. Images of one op keep their original order and the ops draw their random signs in
    op order, so the result is exactly that of running each op on its own selection.
    With ``return_ops`` also returns the chosen op indices, shape (num_ops, N).
    """
    grouped, order, chosen = _rand_augment_grouped(x, num_ops)
    x = grouped.index_select(0, _inverse(order)) if num_ops else grouped
    return (x, chosen) if return_ops else x


def _cutout_mask(n: int, h: int, w: int, fraction: float, device: torch.device) -> Tensor:
    """(N, 1, H, W): True inside a square of side ``fraction`` × side at a random centre."""
    side = max(1, round(fraction * min(h, w)))
    cy = torch.randint(0, h, (n, 1), device=device)
    cx = torch.randint(0, w, (n, 1), device=device)
    dy = torch.arange(h, device=device) - cy  # (N, H): row offset from the centre
    dx = torch.arange(w, device=device) - cx  # (N, W)
    rows, cols = dy.abs() <= side // 2, dx.abs() <= side // 2
    if side % 2 == 0:  # an even side: drop one row and column so the square is side × side
        rows, cols = rows & (dy < side // 2), cols & (dx < side // 2)
    return rows[:, None, :, None] & cols[:, None, None, :]


def cutout(x: Tensor, fraction: float) -> Tensor:
    """A grey square of side ``fraction`` × image side at a random centre per image."""
    if fraction <= 0:
        return x
    n, _, h, w = x.shape
    return torch.where(_cutout_mask(n, h, w, fraction, x.device), GREY, x)


def strong_augment(x: Tensor, num_ops: int, cutout_fraction: float) -> Tensor:
    return cutout(rand_augment(x, num_ops), cutout_fraction)


def strong_augment_normalized(
    x: Tensor, num_ops: int, cutout_fraction: float, mean: Tensor, std: Tensor
) -> Tensor:
    """``(strong_augment(x) − mean) / std`` in channels_last: the same values and random draws,
    with fewer passes over the batch. Cutout and normalisation run while the images are still
    grouped by op, and putting them back in order writes the channels_last layout directly."""
    grouped, order, _ = _rand_augment_grouped(x, num_ops)
    if cutout_fraction > 0:
        n, _, h, w = x.shape
        inside = _cutout_mask(n, h, w, cutout_fraction, x.device).index_select(0, order)
        grouped = torch.where(inside, GREY, grouped)
    elif grouped is x:
        grouped = x.clone()  # normalised in place below: never the caller's tensor
    grouped = grouped.sub_(mean).div_(std)
    back = grouped.permute(0, 2, 3, 1).index_select(0, _inverse(order))  # (N, H, W, C)
    return back.permute(0, 3, 1, 2)  # (N, C, H, W), channels_last

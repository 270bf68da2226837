"""RandAugment's 14 ops on whole batches, and the order ``rand_augment`` runs them in.

Each op takes images (n, C, H, W) in [0, 1] and magnitudes m (n,) in [0, 1], and treats every
image on its own (its own magnitude, its own random sign), so running an op on any subset of a
batch gives those images exactly what running it on the whole batch would.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

GREY = 0.5  # fill for Cutout and for pixels that geometric ops bring in


@functools.cache
def device_constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A small constant tensor, made once per device: copying it from the host on every call
    would make the host wait for the GPU each time."""
    return torch.tensor(values, device=device, dtype=dtype)


# ---- RandAugment ops: each takes images (n, C, H, W) in [0, 1] and magnitudes m (n,) in [0, 1].


def _blend(a: Tensor, b: Tensor, factor: Tensor) -> Tensor:
    """PIL's ImageEnhance: b + factor·(a − b), clamped (in place on one new tensor)."""
    return (a - b).mul_(factor.view(-1, 1, 1, 1)).add_(b).clamp_(0, 1)


def _grey(x: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    weights = device_constant((0.299, 0.587, 0.114), x.device, x.dtype)
    return (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _enhance_factor(m: Tensor) -> Tensor:
    """0.1 … 1.9 (1 = unchanged) for color, contrast, brightness and sharpness: the range of the
    original FixMatch's RandAugment (AutoAugment's ``_enhancer_impl``: 0.1 + 1.8·level), which
    weakens or strengthens alike. USB draws 0.05 … 0.95, which only ever weakens; matchlab's
    strong augmentation follows the FixMatch paper (N = 2), so it takes that code's range."""
    return 0.1 + 1.8 * m


def signed_magnitude(m: Tensor) -> Tensor:
    """Random sign so rotations, shears and shifts go both ways."""
    return m * torch.where(torch.rand_like(m) < 0.5, -1.0, 1.0)


def op_identity(x: Tensor, m: Tensor) -> Tensor:
    return x


def op_autocontrast(x: Tensor, m: Tensor) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    spread = high > low
    scale = torch.where(spread, 1.0 / (high - low), torch.ones_like(high))
    # A flat channel (high == low) is all ``low``: 0 · 1 + low gives it back exactly, and
    # elsewhere adding 0 changes nothing, so no full-size where (a slow kernel on the CPU).
    offset = torch.where(spread, torch.zeros_like(low), low)
    return (x - low).mul_(scale).add_(offset)


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
    kernel = device_constant(((1, 1, 1), (1, 5, 1), (1, 1, 1)), x.device, x.dtype) / 13
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


def warp(x: Tensor, s: Tensor, kind: Tensor) -> Tensor:
    grid = _affine_grid(_affine_theta(s, kind), x.shape[2], x.shape[3])
    # Sample x − grey with zero padding so pixels brought in from outside come out grey.
    return F.grid_sample(x - GREY, grid, align_corners=False, padding_mode="zeros").add_(GREY)


def kind_like(m: Tensor, kind: int) -> Tensor:
    return torch.full_like(m, kind, dtype=torch.long)


def op_rotate(x: Tensor, m: Tensor) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, ROTATE))


def op_shear_x(x: Tensor, m: Tensor) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, SHEAR_X))


def op_shear_y(x: Tensor, m: Tensor) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, SHEAR_Y))


def op_translate_x(x: Tensor, m: Tensor) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, TRANSLATE_X))


def op_translate_y(x: Tensor, m: Tensor) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, TRANSLATE_Y))


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
GEOMETRIC_KIND = {
    op_rotate: ROTATE,
    op_shear_x: SHEAR_X,
    op_shear_y: SHEAR_Y,
    op_translate_x: TRANSLATE_X,
    op_translate_y: TRANSLATE_Y,
}
RUN_ORDER = sorted(
    range(len(RAND_AUGMENT_OPS)), key=lambda k: RAND_AUGMENT_OPS[k] in GEOMETRIC_KIND
)
RUN_RANK = [RUN_ORDER.index(k) for k in range(len(RAND_AUGMENT_OPS))]

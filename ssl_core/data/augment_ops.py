"""RandAugment's 14 ops on whole batches, and the order ``rand_augment`` runs them in.

Each op takes images (n, C, H, W) in [0, 1] and magnitudes m (n,) in [0, 1], and treats every
image on its own (its own magnitude, its own random sign), so running an op on any subset of a
batch gives those images exactly what running it on the whole batch would. An op returns its
result (a new tensor; identity returns ``x``), or writes it into ``out`` and returns ``out``:
the same values either way. ``out`` is either ``x`` itself (``rand_augment`` works in place on
its own copy of the batch) or memory that does not overlap ``x``.
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


def _blend(a: Tensor, b: Tensor | float, factor: Tensor, out: Tensor | None = None) -> Tensor:
    """PIL's ImageEnhance: b + factor·(a − b), clamped (in place on ``out`` or one new tensor)."""
    return torch.sub(a, b, out=out).mul_(factor.view(-1, 1, 1, 1)).add_(b).clamp_(0, 1)


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


def usb_enhance_magnitude(m: Tensor) -> Tensor:
    """The magnitude that makes ``_enhance_factor`` give USB's 0.05 … 0.95 (its RandAugment's
    ``v`` for color, contrast, brightness and sharpness) for a draw m in [0, 1]."""
    return m * 0.5 - 1 / 36


def signed_magnitude(m: Tensor) -> Tensor:
    """Random sign so rotations, shears and shifts go both ways."""
    return torch.where(torch.rand_like(m) < 0.5, -m, m)


def op_identity(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return x if out is None else out.copy_(x)  # copy_ onto x itself does nothing


def op_autocontrast(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    spread = high > low
    scale = torch.where(spread, 1.0 / (high - low), torch.ones_like(high))
    # A flat channel (high == low) is all ``low``: 0 · 1 + low gives it back exactly, and
    # elsewhere adding 0 changes nothing, so no full-size where (a slow kernel on the CPU).
    offset = torch.where(spread, torch.zeros_like(low), low)
    return torch.sub(x, low, out=out).mul_(scale).add_(offset)


def op_equalize(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    """Histogram equalisation per image and channel, through a 256-entry lookup table."""
    n, c, h, w = x.shape
    levels = (x * 255).round().long().view(n * c, h * w)
    hist = torch.zeros(n * c, 256, device=x.device).scatter_add_(
        1, levels, torch.ones_like(levels, dtype=torch.float32)
    )
    cdf = hist.cumsum(1)
    cdf_min = torch.where(hist > 0, cdf, torch.full_like(cdf, float(h * w))).amin(1, keepdim=True)
    lut = ((cdf - cdf_min) / (h * w - cdf_min).clamp(min=1)).clamp(0, 1)
    equalized = lut.gather(1, levels).view(n, c, h, w).to(x.dtype)
    return equalized if out is None else out.copy_(equalized)


def op_solarize(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    threshold = (1.0 - m).view(-1, 1, 1, 1)  # stronger = lower threshold
    # lerp with weights of exactly 0 or 1 gives exactly x or 1 − x: torch.where's values, with
    # kernels that are over twice as fast on the CPU.
    return torch.lerp(x, 1.0 - x, (x >= threshold).to(x.dtype), out=out)


def op_color(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    if x.shape[1] == 1:  # an image that is its own grey: grey + f·(x − grey) is x, clamped
        return torch.clamp(x, 0, 1, out=out)
    return _blend(x, _grey(x).expand_as(x), _enhance_factor(m), out)


def op_posterize(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    """Keep the top 8 … 4 bits of each 8-bit level: level & mask, with the mask's low k bits
    clear, is ⌊level / 2^k⌋ · 2^k, which floats compute exactly (k = 0 … 4) for levels 0 … 255,
    i.e. x in [0, 1] as every op gives (tests/ssl_core/test_augment_ops.py checks all 256)."""
    step = (2 ** (m * 4).round().long()).to(x.dtype).view(-1, 1, 1, 1)  # 2^k, k = 0 … 4 dropped
    return torch.mul(x, 255, out=out).round_().div_(step).floor_().mul_(step).div_(255)


def op_contrast(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean.expand_as(x), _enhance_factor(m), out)


def op_brightness(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return _blend(x, 0.0, _enhance_factor(m), out)  # blend with black: b = 0


@functools.cache
def _smooth_weights(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """PIL's SMOOTH filter (3×3, centre 5, the rest 1, over 13) as its nine entries in
    row-major order, made once per device and dtype: indexing the kernel on every call was nine
    ops."""
    kernel = device_constant(((1, 1, 1), (1, 5, 1), (1, 1, 1)), device, dtype) / 13
    return tuple(kernel.flatten().unbind())


def op_sharpness(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    """Blend with PIL's SMOOTH filter."""
    weights = _smooth_weights(x.device, x.dtype)
    h, w = x.shape[2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    # The 3×3 sum as nine multiply-adds in row-major order: what a depthwise conv2d computes
    # (bit for bit on the CPU) without a oneDNN primitive per batch size, which made each
    # call with a new number of images slow.
    bands = [padded[:, :, i : i + h] for i in range(3)]
    windows = [band[..., j : j + w] for band in bands for j in range(3)]
    smooth = windows[0] * weights[0]
    for window, weight in zip(windows[1:], weights[1:], strict=True):
        smooth.addcmul_(window, weight)
    return _blend(x, smooth, _enhance_factor(m), out)


# ---- geometric ops: one affine warp each, described by a kind and a signed magnitude s.

ROTATE, SHEAR_X, SHEAR_Y, TRANSLATE_X, TRANSLATE_Y = range(5)


# Where each kind takes the six entries of its matrix from: the columns of ``_affine_theta``'s
# candidates (1, 0, cos, −sin, sin, shear, shift).
_THETA_SOURCES = (
    (2, 3, 1, 4, 2, 1),  # ROTATE:      [cos, −sin, 0; sin, cos, 0]
    (0, 5, 1, 1, 0, 1),  # SHEAR_X:     [1, shear, 0; 0, 1, 0]
    (0, 1, 1, 5, 0, 1),  # SHEAR_Y:     [1, 0, 0; shear, 1, 0]
    (0, 1, 6, 1, 0, 1),  # TRANSLATE_X: [1, 0, shift; 0, 1, 0]
    (0, 1, 1, 1, 0, 6),  # TRANSLATE_Y: [1, 0, 0; 0, 1, shift]
)
# USB's shears (PIL's affine (1, v, 0, 0, 1, 0)) keep the top-left pixel row (column) in place,
# not the centre: in affine_grid's [-1, 1] coordinates of an n-pixel side that adds
# shear·(n − 1)/n as a shift (column 7; matchlab's images are square).
_THETA_SOURCES_CORNER = (
    _THETA_SOURCES[ROTATE],
    (0, 5, 7, 1, 0, 1),  # SHEAR_X:     [1, shear, shear; 0, 1, 0]
    (0, 1, 1, 5, 0, 7),  # SHEAR_Y:     [1, 0, 0; shear, 1, shear]
    _THETA_SOURCES[TRANSLATE_X],
    _THETA_SOURCES[TRANSLATE_Y],
)


def _affine_theta(s: Tensor, kind: Tensor, corner: float | None = None) -> Tensor:
    """(N, 2, 3) matrices: rotate by s·30°, shear by s·0.3, shift by s·0.3 of the side.

    Every image's entries are picked from its own candidates by its kind (one gather), not
    chosen kind by kind with ``where``: a dozen small ops instead of two dozen.
    """
    angle = s * math.radians(30)
    cos, sin = angle.cos(), angle.sin()
    shear = s * 0.3
    shift = shear * 2  # affine_grid spans [-1, 1]: 0.3 of the side
    constants = device_constant((1.0, 0.0), s.device, s.dtype).expand(len(s), 2)
    columns = [cos, -sin, sin, shear, shift] + ([shear * corner] if corner is not None else [])
    candidates = torch.cat([constants, torch.stack(columns, dim=1)], 1)
    table = _THETA_SOURCES_CORNER if corner is not None else _THETA_SOURCES
    sources = device_constant(table, s.device, torch.long).index_select(0, kind)
    return candidates.gather(1, sources).view(-1, 2, 3)


def _affine_grid(theta: Tensor, h: int, w: int) -> Tensor:
    """``F.affine_grid(theta, (N, C, h, w), align_corners=False)`` without its batched matmul.

    The same base grid and the same sum (x·θ0 + y·θ1 + θ2), as broadcast multiply-adds laid out
    (N, 2, H, W) so they vectorise along W: equal values (bit for bit on the CPU), at a quarter
    of the cost for a few hundred 32×32 images. The result is a permuted view, not a copy:
    grid_sample reads it through its strides as fast as a contiguous grid (measured on the
    CPU: 0.89 vs 0.90 ms for 160 images), so laying it out
    (N, H, W, 2) in memory would only add a pass over it.
    """
    xs = torch.linspace(-1, 1, w, device=theta.device, dtype=theta.dtype) * (w - 1) / w
    ys = torch.linspace(-1, 1, h, device=theta.device, dtype=theta.dtype) * (h - 1) / h
    t = theta[:, :, None, None, :]  # (N, 2, 1, 1, 3)
    grid = xs[None, None, None, :] * t[..., 0] + ys[None, None, :, None] * t[..., 1] + t[..., 2]
    return grid.permute(0, 2, 3, 1)  # (N, H, W, 2), strided


def warp(
    x: Tensor,
    s: Tensor,
    kind: Tensor,
    out: Tensor | None = None,
    corner: bool = False,
    fill: float = GREY,
) -> Tensor:
    """The affine warps; ``corner`` and ``fill`` 0 (black, PIL's default) give USB's."""
    h, w = x.shape[2], x.shape[3]
    grid = _affine_grid(_affine_theta(s, kind, (h - 1) / h if corner else None), h, w)
    # Sample x − fill with zero padding so pixels brought in from outside come out as fill.
    # ``out`` (possibly x itself) holds x − fill until the sampled result overwrites it.
    shifted = torch.sub(x, fill, out=out)
    sampled = F.grid_sample(shifted, grid, align_corners=False, padding_mode="zeros")
    return sampled.add_(fill) if out is None else torch.add(sampled, fill, out=out)


def kind_like(m: Tensor, kind: int) -> Tensor:
    return torch.full_like(m, kind, dtype=torch.long)


def op_rotate(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, ROTATE), out)


def op_shear_x(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, SHEAR_X), out)


def op_shear_y(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, SHEAR_Y), out)


def op_translate_x(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, TRANSLATE_X), out)


def op_translate_y(x: Tensor, m: Tensor, out: Tensor | None = None) -> Tensor:
    return warp(x, signed_magnitude(m), kind_like(m, TRANSLATE_Y), out)


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
ENHANCE_OPS = (op_color, op_contrast, op_brightness, op_sharpness)
STRONG_VARIANTS = ("fixmatch", "usb")
RUN_ORDER = sorted(
    range(len(RAND_AUGMENT_OPS)), key=lambda k: RAND_AUGMENT_OPS[k] in GEOMETRIC_KIND
)
RUN_RANK = [RUN_ORDER.index(k) for k in range(len(RAND_AUGMENT_OPS))]

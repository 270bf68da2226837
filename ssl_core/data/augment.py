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


def random_crop(x: Tensor, pad: int) -> Tensor:
    """Reflect-pad by ``pad`` and take a random crop of the original size, per image."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    top = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    left = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    rows = (top + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (left + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(x: Tensor) -> Tensor:
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


def crop_padding(image_size: int) -> int:
    """4 px on 32×32, 12.5 % of the side otherwise (1 px on digits' 8×8)."""
    return max(1, round(image_size * 0.125))


def weak_augment(x: Tensor, ops: list[str]) -> Tensor:
    """Apply the geometric weak augmentations named in ``ops`` (noise is added after normalising)."""
    if "crop" in ops:
        x = random_crop(x, crop_padding(x.shape[-1]))
    if "flip" in ops:
        x = random_flip(x)
    return x


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


def op_rotate(x: Tensor, m: Tensor) -> Tensor:
    angle = _signed(m) * math.radians(30)
    theta = _identity_theta(len(x), x)
    theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
    theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    return _affine(x, theta)


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


def _shear(x: Tensor, m: Tensor, axis: int) -> Tensor:
    theta = _identity_theta(len(x), x)
    theta[:, axis, 1 - axis] = _signed(m) * 0.3
    return _affine(x, theta)


def op_shear_x(x: Tensor, m: Tensor) -> Tensor:
    return _shear(x, m, 0)


def op_shear_y(x: Tensor, m: Tensor) -> Tensor:
    return _shear(x, m, 1)


def _translate(x: Tensor, m: Tensor, axis: int) -> Tensor:
    theta = _identity_theta(len(x), x)
    theta[:, axis, 2] = _signed(m) * 0.3 * 2  # affine_grid spans [-1, 1]: 0.3 of the side
    return _affine(x, theta)


def op_translate_x(x: Tensor, m: Tensor) -> Tensor:
    return _translate(x, m, 0)


def op_translate_y(x: Tensor, m: Tensor) -> Tensor:
    return _translate(x, m, 1)


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


def rand_augment(
    x: Tensor, num_ops: int, return_ops: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """RandAugment: each image independently gets ``num_ops`` ops with random magnitudes.

    Loops over the 14 op kinds (not over images): each op runs once on the images that drew it.
    With ``return_ops`` also returns the chosen op indices, shape (num_ops, N).
    """
    n = x.shape[0]
    chosen = torch.randint(0, len(RAND_AUGMENT_OPS), (num_ops, n), device=x.device)
    magnitudes = torch.rand(num_ops, n, device=x.device, dtype=x.dtype)
    for round_ in range(num_ops):
        for k, op in enumerate(RAND_AUGMENT_OPS):
            if k == 0:
                continue
            picked = (chosen[round_] == k).nonzero().squeeze(1)
            if picked.numel():
                x = x.index_copy(
                    0, picked, op(x.index_select(0, picked), magnitudes[round_, picked])
                )
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
    return torch.where(inside.unsqueeze(1), torch.full_like(x, GREY), x)


def strong_augment(x: Tensor, num_ops: int, cutout_fraction: float) -> Tensor:
    return cutout(rand_augment(x, num_ops), cutout_fraction)

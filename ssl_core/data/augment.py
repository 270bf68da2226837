"""Augmentation of whole batches on the training device (no per-image Python, no PIL).

Images are float tensors in [0, 1], shape (N, C, H, W). Weak: reflect-pad + random crop, flip,
and the seed's gaussian noise (added after normalisation, as the seed does). Strong: RandAugment
with an independent op and magnitude per image, then Cutout.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_core.data.augment_ops import (  # noqa: F401 — RAND_AUGMENT_OPS and the ops are public here
    ENHANCE_OPS,
    GEOMETRIC_KIND,
    GREY,
    RAND_AUGMENT_OPS,
    RUN_ORDER,
    RUN_RANK,
    device_constant,
    kind_like,
    op_autocontrast,
    op_brightness,
    op_color,
    op_contrast,
    op_equalize,
    op_identity,
    op_posterize,
    op_rotate,
    op_sharpness,
    op_shear_x,
    op_shear_y,
    op_solarize,
    op_translate_x,
    op_translate_y,
    signed_magnitude,
    usb_enhance_magnitude,
    warp,
)

NOISE_STD = 0.15  # the seed's GaussianNoise, in normalised units
_PHOTOMETRIC = len(RUN_ORDER) - len(GEOMETRIC_KIND)  # ops before the geometric ones in RUN_ORDER


def _reflect(q: Tensor, size: int) -> Tensor:
    """Source index of padded position ``q`` under reflect padding (no edge repeat), pad < size."""
    q = q.abs()
    return torch.where(q > size - 1, 2 * (size - 1) - q, q)


def _crop_flip_indices(
    n: int, h: int, w: int, pad: int | None, flip: bool, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Source row (N, H) and column (N, W) of every output pixel of a random crop after reflect
    padding and/or a horizontal flip. Draws top, left, then the flip coin, like the
    crop-then-flip it replaces."""
    rows = torch.arange(h, device=device).expand(n, h)
    cols = torch.arange(w, device=device).expand(n, w)
    if pad is not None:
        top = torch.randint(0, 2 * pad + 1, (n, 1), device=device)
        left = torch.randint(0, 2 * pad + 1, (n, 1), device=device)
        rows = _reflect(top + rows - pad, h)
        cols = _reflect(left + cols - pad, w)
    if flip:
        flipped = torch.rand(n, 1, device=device) < 0.5
        cols = torch.where(flipped, cols.flip(1), cols)
    return rows, cols


def _gather_pixels(x: Tensor, rows: Tensor, cols: Tensor, images: Tensor | None = None) -> Tensor:
    """``out[p, c, i, j] = x[images[p], c, rows[p, i], cols[p, j]]`` (``images``: every image in
    order when None), as whole rows of W pixels first, then the columns, per image."""
    n, (_, c, h, w) = len(rows), x.shape
    src = torch.arange(n, device=x.device) if images is None else images
    image_rows = ((src.view(n, 1, 1) * c + torch.arange(c, device=x.device).view(1, c, 1)) * h
                  + rows[:, None, :]).view(-1)  # fmt: skip
    out = x.reshape(-1, w).index_select(0, image_rows).view(n, c * h, w)
    return out.gather(2, cols[:, None, :].expand(n, c * h, w)).view(n, c, h, w)


def _crop_flip(x: Tensor, pad: int | None, flip: bool) -> Tensor:
    """Random crop after reflect padding and/or horizontal flip, as index gathers.

    Builds the source row and column of every output pixel instead of padding, cropping and
    flipping whole tensors, and works on uint8 (4× less memory traffic than float).
    """
    n, _, h, w = x.shape
    return _gather_pixels(x, *_crop_flip_indices(n, h, w, pad, flip, x.device))


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


def _inverse(order: Tensor) -> Tensor:
    positions = torch.arange(len(order), device=order.device)
    return torch.empty_like(order).scatter_(0, order, positions)


def _draw_ops(
    n: int, num_ops: int, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor, list[list[int]]]:
    """RandAugment's draws: op indices (num_ops, N), magnitudes (num_ops, N) and the number of
    images per op and round (the one host sync)."""
    num_kinds = len(RAND_AUGMENT_OPS)
    chosen = torch.randint(0, num_kinds, (num_ops, n), device=device)
    magnitudes = torch.rand(num_ops, n, device=device, dtype=dtype)
    rounds = torch.arange(num_ops, device=device)[:, None]
    counts = torch.bincount((chosen + num_kinds * rounds).flatten(), minlength=num_ops * num_kinds)
    return chosen, magnitudes, counts.view(num_ops, num_kinds).tolist()


def _op_order(chosen: Tensor) -> Tensor:
    """Positions of the images sorted by the op they drew in one round (stable: images of one
    op keep their order)."""
    rank = device_constant(tuple(RUN_RANK), chosen.device, torch.long)
    return torch.argsort(rank[chosen], stable=True)


def _rand_augment_rounds(
    x: Tensor,
    order: Tensor,
    chosen: Tensor,
    magnitudes: Tensor,
    counts: list[list[int]],
    variant: str = "fixmatch",
) -> tuple[Tensor, Tensor]:
    """The rounds of RandAugment on ``x``, already grouped by the first round's ops
    (``x[p]`` is input image ``order[p]``); returns the images grouped by the last round's ops
    and that order. Works in place: ``x`` must be a tensor of the caller's own. ``variant``
    ``usb``: USB's enhance factors (0.05 … 0.95), shears about the corner, black fill."""
    usb = variant == "usb"
    for round_ in range(len(counts)):
        if round_:
            new_order = _op_order(chosen[round_])
            x = x.index_select(0, _inverse(order).index_select(0, new_order))
            order = new_order
        sizes = [counts[round_][k] for k in RUN_ORDER]
        m = magnitudes[round_].index_select(0, order)
        signed, warp_kinds = [], []
        # One split into every op's slice (views), not a slice op per op and tensor.
        for k, rows, m_rows in zip(RUN_ORDER, x.split(sizes), m.split(sizes), strict=True):
            op = RAND_AUGMENT_OPS[k]
            if not len(rows):
                continue
            if op in GEOMETRIC_KIND:
                signed.append(signed_magnitude(m_rows))  # drawn op by op, as each op would
                warp_kinds.append(kind_like(m_rows, GEOMETRIC_KIND[op]))
            else:
                if usb and op in ENHANCE_OPS:
                    m_rows = usb_enhance_magnitude(m_rows)
                op(rows, m_rows, out=rows)  # each op's slice in place: no copy to gather them
        if signed:  # the geometric ops come last in RUN_ORDER: their images are the batch's end
            rows = x[sum(sizes[:_PHOTOMETRIC]) :]
            fill = 0.0 if usb else GREY
            warp(rows, torch.cat(signed), torch.cat(warp_kinds), rows, corner=usb, fill=fill)
    return x, order


def _rand_augment_grouped(x: Tensor, num_ops: int) -> tuple[Tensor, Tensor, Tensor]:
    """RandAugment, leaving the images grouped by their last op: (images, order, chosen ops)
    with ``images[p]`` the augmented input image ``order[p]``."""
    chosen, magnitudes, counts = _draw_ops(x.shape[0], num_ops, x.device, x.dtype)
    if not num_ops:
        return x, torch.arange(x.shape[0], device=x.device), chosen
    order = _op_order(chosen[0])
    x, order = _rand_augment_rounds(x.index_select(0, order), order, chosen, magnitudes, counts)
    return x, order, chosen


def rand_augment(
    x: Tensor, num_ops: int, return_ops: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """RandAugment: each image independently gets ``num_ops`` ops with random magnitudes.

    Loops over the 14 op kinds (not over images). Each round sorts the images by the op they
    drew and runs each op once, in place, on its contiguous slice (the five geometric ops share
    one warp); the images go back in order at the end: one copy of the batch per round instead
    of one per op, and one host sync for the op counts where per-op ``nonzero`` would sync 13
    times a round on a GPU. Images of one op keep their original order and the ops draw their
    random signs in op order, so the result is exactly that of running each op on its own
    selection (tests/ssl_core/test_augment.py checks it).
    With ``return_ops`` also returns the chosen op indices, shape (num_ops, N).
    """
    grouped, order, chosen = _rand_augment_grouped(x, num_ops)
    x = grouped.index_select(0, _inverse(order)) if num_ops else grouped
    return (x, chosen) if return_ops else x


def _cutout_weights(
    n: int, h: int, w: int, fraction: float, x: Tensor, order: Tensor | None = None
) -> Tensor:
    """(N, 1, H, W) in ``x``'s dtype: 1 inside a square at a random centre, clipped at the
    border, 0 elsewhere; with ``order``, image p's square is that of image ``order[p]``.

    Each image draws its own side from U(0, ``fraction``) × the image side, as USB does
    (``random.random() * 0.5``; the original FixMatch samples Cutout's level too): on 32×32 with
    0.5 a mean of about 70 px² masked instead of a fixed 16 × 16 square's 194 px².
    As weights for ``lerp`` (exactly the image at 0, exactly grey at 1): one vectorised pass,
    where a boolean mask and ``where`` took seven times as long on the CPU.
    """
    device = x.device
    cy = torch.randint(0, h, (n, 1), device=device)
    cx = torch.randint(0, w, (n, 1), device=device)
    side = (torch.rand(n, 1, device=device) * (fraction * min(h, w))).round_().long()  # (N, 1)
    low = -(side // 2)  # offsets low … low + side − 1 from the centre: side × side pixels
    dy = torch.arange(h, device=device) - cy  # (N, H): row offset from the centre
    dx = torch.arange(w, device=device) - cx  # (N, W)
    rows, cols = (dy >= low) & (dy < low + side), (dx >= low) & (dx < low + side)
    if order is not None:
        rows, cols = rows.index_select(0, order), cols.index_select(0, order)
    return rows.to(x.dtype)[:, None, :, None] * cols.to(x.dtype)[:, None, None, :]


def _grey_like(x: Tensor) -> Tensor:
    return device_constant((GREY,), x.device, x.dtype)


def cutout(x: Tensor, fraction: float) -> Tensor:
    """A grey square of side U(0, ``fraction``) × image side at a random centre per image."""
    if fraction <= 0:
        return x
    n, _, h, w = x.shape
    return torch.lerp(x, _grey_like(x), _cutout_weights(n, h, w, fraction, x))


def strong_augment(x: Tensor, num_ops: int, cutout_fraction: float) -> Tensor:
    return cutout(rand_augment(x, num_ops), cutout_fraction)


def _cutout_normalize_reorder(
    grouped: Tensor, order: Tensor, cutout_fraction: float, mean: Tensor, std: Tensor
) -> Tensor:
    """Cutout and normalisation in place on ``grouped`` (a tensor of ours) while the images are
    still grouped by op; putting them back in order writes the channels_last layout directly."""
    if cutout_fraction > 0:
        n, _, h, w = grouped.shape
        weights = _cutout_weights(n, h, w, cutout_fraction, grouped, order)
        grouped.lerp_(_grey_like(grouped), weights)
    grouped = grouped.sub_(mean).div_(std)
    back = grouped.permute(0, 2, 3, 1).index_select(0, _inverse(order))  # (N, H, W, C)
    return back.permute(0, 3, 1, 2)  # (N, C, H, W), channels_last


def strong_augment_normalized(
    x: Tensor, num_ops: int, cutout_fraction: float, mean: Tensor, std: Tensor
) -> Tensor:
    """``(strong_augment(x) − mean) / std`` in channels_last: the same values and random draws,
    with fewer passes over the batch."""
    grouped, order, _ = _rand_augment_grouped(x, num_ops)
    if grouped is x:
        grouped = x.clone()  # changed in place below: never the caller's tensor
    return _cutout_normalize_reorder(grouped, order, cutout_fraction, mean, std)


def strong_augment_uint8(
    images: Tensor,
    weak_ops: list[str],
    num_ops: int,
    cutout_fraction: float,
    mean: Tensor,
    std: Tensor,
    variant: str = "fixmatch",
) -> Tensor:
    """The strong view of uint8 images: ``weak_augment(images, weak_ops)`` (crop and flip), then
    ``strong_augment_normalized`` of the images as floats in [0, 1] (``variant``: the spec's
    ``strong_augment``, see ``_rand_augment_rounds``).

    The same values and random draws, in fewer passes: the crop's gather already puts the
    images in the order of the first round's ops, on uint8 (the float batch is not regrouped).
    """
    n, _, h, w = images.shape
    crop, flip = "crop" in weak_ops, "flip" in weak_ops
    pad = crop_padding(w) if crop else None
    rows, cols = (
        _crop_flip_indices(n, h, w, pad, flip, images.device) if crop or flip else (None, None)
    )
    chosen, magnitudes, counts = _draw_ops(n, num_ops, images.device, torch.float32)
    order = _op_order(chosen[0]) if num_ops else torch.arange(n, device=images.device)
    if num_ops or rows is not None:
        if rows is None:
            rows = torch.arange(h, device=images.device).expand(n, h)
            cols = torch.arange(w, device=images.device).expand(n, w)
        images = _gather_pixels(
            images, rows.index_select(0, order), cols.index_select(0, order), order
        )
    x = images.to(torch.float32, copy=True).div_(255)  # always a new tensor: changed in place
    x, order = _rand_augment_rounds(x, order, chosen, magnitudes, counts, variant)
    return _cutout_normalize_reorder(x, order, cutout_fraction, mean, std)

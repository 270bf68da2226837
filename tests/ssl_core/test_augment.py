"""Batched augmentation: shapes, dtypes, value ranges, per-image independence."""

import torch

from ssl_core.data.augment import (
    RAND_AUGMENT_OPS,
    cutout,
    rand_augment,
    random_crop,
    random_flip,
    strong_augment,
    weak_augment,
)


def _images(n=64, c=3, size=32):
    torch.manual_seed(0)
    return torch.rand(n, c, size, size)


def test_crop_keeps_shape_and_takes_shifted_windows():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(200, 1, 1, 1)
    out = random_crop(x, pad=1)
    assert out.shape == x.shape and out.dtype == x.dtype
    # with reflect padding of 1, every crop's interior is a shifted copy of the original
    shifts = {tuple(img[0, 1:3, 1:3].flatten().tolist()) for img in out}
    assert len(shifts) == 9  # 3 × 3 offsets all drawn, independently per image


def test_flip_flips_about_half_per_image():
    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(1000, 1, 1, 1)
    out = random_flip(x)
    flipped = (out[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.4 < flipped < 0.6
    assert set(out[:, 0, 0, 0].tolist()) == {0.0, 3.0}


def test_weak_augment_shape():
    x = _images()
    assert weak_augment(x, ["crop", "flip"]).shape == x.shape


def test_each_rand_augment_op_keeps_shape_dtype_and_range():
    x = _images(8)
    m = torch.rand(8)
    for op in RAND_AUGMENT_OPS:
        out = op(x, m)
        assert out.shape == x.shape, op.__name__
        assert out.dtype == x.dtype, op.__name__
        assert out.min() >= -1e-5 and out.max() <= 1 + 1e-5, op.__name__


def test_rand_augment_draws_ops_per_image():
    torch.manual_seed(1)
    x = _images(256)
    out, ops = rand_augment(x, num_ops=2, return_ops=True)
    assert out.shape == x.shape and ops.shape == (2, 256)
    # independent per image: many different op pairs in one batch, every op used
    assert len({tuple(pair) for pair in ops.T.tolist()}) > 50
    assert set(ops.flatten().tolist()) == set(range(len(RAND_AUGMENT_OPS)))
    # an image that drew only identity is unchanged; one that drew solarize twice is not
    identity = ((ops == 0).all(0)).nonzero().flatten()
    if len(identity):
        assert torch.equal(out[identity], x[identity])


def test_cutout_paints_one_grey_square_per_image():
    x = torch.zeros(50, 3, 32, 32)
    out = cutout(x, 0.5)
    grey = (out[:, 0] == 0.5).sum(dim=(1, 2))
    assert grey.max().item() <= 16 * 16  # at most half the side (drawn per image)
    assert (grey > 0).float().mean() > 0.8
    centres = {tuple((img[0] == 0.5).nonzero().float().mean(0).round().tolist()) for img in out}
    assert len(centres) > 10  # squares land in different places per image


def test_strong_augment_range_on_grayscale():
    x = _images(32, c=1, size=8)
    out = strong_augment(x, 2, 0.5)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1

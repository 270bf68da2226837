"""Batched augmentation: shapes, dtypes, value ranges, per-image independence."""

import pytest
import torch

from ssl_core.data.augment import (
    RAND_AUGMENT_OPS,
    RUN_ORDER,
    cutout,
    rand_augment,
    random_crop,
    random_flip,
    strong_augment,
    strong_augment_normalized,
    strong_augment_uint8,
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


@pytest.mark.parametrize("channels", [1, 3])
def test_each_op_gives_the_same_values_into_out_and_in_place(channels):
    """``rand_augment`` runs every op in place on its slice of the batch (``out=x``): that must
    give exactly what the op returns as a new tensor, and never touch the input otherwise."""
    x, m = _images(12, c=channels), torch.rand(12)
    for op in RAND_AUGMENT_OPS:
        before = x.clone()
        torch.manual_seed(3)
        expected = op(x, m)
        assert torch.equal(x, before), f"{op.__name__} changed its input"
        torch.manual_seed(3)
        into = op(x, m, out=torch.empty_like(x))
        torch.manual_seed(3)
        own = x.clone()
        in_place = op(own, m, out=own)
        assert torch.equal(into, expected), op.__name__
        assert torch.equal(in_place, expected) and in_place.data_ptr() == own.data_ptr(), (
            op.__name__
        )


@pytest.mark.parametrize("channels,size", [(3, 32), (1, 8)])
def test_strong_view_of_uint8_images_equals_its_steps_one_by_one(channels, size):
    """The fused path (crop and flip on uint8 in the first round's op order, ops in place on
    slices, cutout and normalisation while grouped) against the plain composition, same seed."""
    images = torch.randint(0, 256, (96, channels, size, size), dtype=torch.uint8)
    mean, std = torch.full((1, channels, 1, 1), 0.4), torch.full((1, channels, 1, 1), 0.3)
    for seed in range(3):
        torch.manual_seed(seed)
        fused = strong_augment_uint8(images, ["crop", "flip"], 2, 0.5, mean, std)
        torch.manual_seed(seed)
        cropped = weak_augment(images, ["crop", "flip"]).float() / 255
        stepwise = strong_augment_normalized(cropped, 2, 0.5, mean, std)
        torch.manual_seed(seed)
        cropped = weak_augment(images, ["crop", "flip"]).float() / 255
        plain = (strong_augment(cropped, 2, 0.5) - mean) / std
        assert torch.equal(fused, stepwise) and torch.equal(fused, plain)
        assert fused.is_contiguous(memory_format=torch.channels_last)


def test_rand_augment_equals_each_op_run_on_its_own_images():
    """Grouped by op, in place, geometric ops sharing one warp: still exactly each op applied to
    the images that drew it, round after round (the draws made as ``rand_augment`` makes them:
    op indices, then magnitudes, then the geometric ops' signs op by op in ``RUN_ORDER``)."""
    x = _images(200, c=3, size=16)
    for seed in range(3):
        torch.manual_seed(seed)
        grouped = rand_augment(x, num_ops=2)
        torch.manual_seed(seed)
        chosen = torch.randint(0, len(RAND_AUGMENT_OPS), (2, len(x)))
        magnitudes = torch.rand(2, len(x))
        expected = x
        for ops, m in zip(chosen, magnitudes, strict=True):
            step = expected.clone()
            for k in RUN_ORDER:
                images = (ops == k).nonzero().flatten()
                if len(images):
                    step[images] = RAND_AUGMENT_OPS[k](expected[images], m[images])
            expected = step
        assert torch.equal(grouped, expected)


@pytest.mark.parametrize("weak_ops,num_ops", [([], 0), (["crop"], 0), ([], 2)])
def test_strong_view_never_changes_the_callers_images(weak_ops, num_ops):
    images = torch.randint(0, 256, (8, 3, 8, 8)).float()  # levels 0 … 255, already floats
    before = images.clone()
    mean, std = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    out = strong_augment_uint8(images, weak_ops, num_ops, 0.5, mean, std)
    assert torch.equal(images, before) and out.data_ptr() != images.data_ptr()


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

"""Each RandAugment op against its definition, written out plainly (PIL's operation, or the
affine matrix it stands for): the batched, in-place code must compute exactly these values."""

import math

import pytest
import torch
import torch.nn.functional as F

from ssl_core.data.augment_ops import (
    ROTATE,
    SHEAR_X,
    SHEAR_Y,
    TRANSLATE_X,
    TRANSLATE_Y,
    _affine_theta,
    op_posterize,
    op_sharpness,
    op_solarize,
    signed_magnitude,
)

LEVELS = torch.arange(256.0).view(1, 1, 16, 16) / 255  # every 8-bit level once


def test_posterize_keeps_the_top_bits_of_every_level():
    m = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])  # 0 … 4 low bits dropped
    out = op_posterize(LEVELS.expand(5, 1, 16, 16), m)
    for image, dropped in zip(out, range(5), strict=True):
        mask = (255 << dropped) & 255
        expected = (torch.arange(256) & mask).float().view(1, 16, 16) / 255
        assert torch.equal(image, expected), f"{dropped} bits dropped"


def test_solarize_inverts_levels_at_and_above_the_threshold():
    m = torch.tensor([0.0, 1 - 128 / 255, 1.0])  # thresholds 1, 128/255, 0
    out = op_solarize(LEVELS.expand(3, 1, 16, 16), m).flatten(1)
    levels = LEVELS.flatten()
    assert torch.equal(out[0][:-1], levels[:-1]) and out[0][-1] == 0  # only 255 ≥ 1
    assert torch.equal(out[1][:128], levels[:128])  # below 128/255: kept
    assert torch.equal(out[1][128:], 1 - levels[128:])  # 128/255 itself is inverted
    assert torch.equal(out[2], 1 - levels)


def test_sharpness_blends_with_pils_smooth_filter():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 9, 9)
    m = torch.rand(6)
    kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    smooth = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel.expand(3, 1, 3, 3), groups=3)
    factor = (0.1 + 1.8 * m).view(-1, 1, 1, 1)
    expected = (smooth + factor * (x - smooth)).clamp(0, 1)
    assert torch.allclose(op_sharpness(x, m), expected, atol=1e-6)


def test_random_signs_go_both_ways_and_keep_the_magnitude():
    torch.manual_seed(0)
    m = torch.rand(2000)
    signed = signed_magnitude(m)
    assert torch.equal(signed.abs(), m)
    assert 0.45 < (signed < 0).float().mean() < 0.55


@pytest.mark.parametrize(
    "kind,matrix",
    [
        (ROTATE, lambda s: [[math.cos(s * math.pi / 6), -math.sin(s * math.pi / 6), 0],
                            [math.sin(s * math.pi / 6), math.cos(s * math.pi / 6), 0]]),
        (SHEAR_X, lambda s: [[1, 0.3 * s, 0], [0, 1, 0]]),
        (SHEAR_Y, lambda s: [[1, 0, 0], [0.3 * s, 1, 0]]),
        (TRANSLATE_X, lambda s: [[1, 0, 0.6 * s], [0, 1, 0]]),  # 0.3 of a side spanning [-1, 1]
        (TRANSLATE_Y, lambda s: [[1, 0, 0], [0, 1, 0.6 * s]]),
    ],
)  # fmt: skip
def test_each_geometric_kind_builds_its_affine_matrix(kind, matrix):
    s = torch.tensor([-1.0, -0.25, 0.0, 0.5, 1.0])
    theta = _affine_theta(s, torch.full_like(s, kind, dtype=torch.long))
    expected = torch.tensor([matrix(v) for v in s.tolist()])
    assert torch.allclose(theta, expected, atol=1e-6)

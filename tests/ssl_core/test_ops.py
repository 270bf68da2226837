"""Math of the shared ops and losses, against values worked out by hand."""

import math

import torch

from ssl_core.losses import masked_cross_entropy, mse_probs, soft_cross_entropy
from ssl_core.ops import interleave, mixup, sharpen


def test_sharpen_matches_hand_computation():
    probs = torch.tensor([[0.6, 0.3, 0.1]])
    # T = 0.5 squares the probabilities: 0.36, 0.09, 0.01 → / 0.46
    expected = torch.tensor([[0.36 / 0.46, 0.09 / 0.46, 0.01 / 0.46]])
    assert torch.allclose(sharpen(probs, 0.5), expected, atol=1e-6)
    assert torch.allclose(sharpen(probs, 1.0), probs)


def test_mixup_with_fixed_lambda():
    x = torch.tensor([[1.0], [3.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    perm = torch.tensor([1, 0])
    mixed_x, mixed_y = mixup(x, y, 0.7, perm)
    assert torch.allclose(mixed_x, torch.tensor([[0.7 * 1 + 0.3 * 3], [0.7 * 3 + 0.3 * 1]]))
    assert torch.allclose(mixed_y, torch.tensor([[0.7, 0.3], [0.3, 0.7]]))


def test_interleave_swaps_groups_and_is_its_own_inverse():
    b = 6
    chunks = [torch.full((b,), float(i)) for i in range(3)]  # rows tagged by their chunk
    mixed = interleave(chunks, b)
    # groups of 2: chunk 0 keeps rows 0–1, takes rows 2–3 from chunk 1 and rows 4–5 from chunk 2
    assert mixed[0].tolist() == [0, 0, 1, 1, 2, 2]
    assert mixed[1].tolist() == [1, 1, 0, 0, 1, 1]
    assert mixed[2].tolist() == [2, 2, 2, 2, 0, 0]
    restored = interleave(mixed, b)
    for original, back in zip(chunks, restored, strict=True):
        assert torch.equal(original, back)


def test_interleave_uneven_batch_round_trip():
    chunks = [torch.arange(7) + 10 * i for i in range(3)]
    restored = interleave(interleave(chunks, 7), 7)
    assert all(torch.equal(a, b) for a, b in zip(chunks, restored, strict=True))


def test_soft_cross_entropy_and_mse():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = [0.25, 0.75]
    target = torch.tensor([[0.5, 0.5]])
    expected_ce = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert math.isclose(soft_cross_entropy(logits, target).item(), expected_ce, rel_tol=1e-6)
    # mean over rows and classes of (p − t)²: (0.25² + 0.25²) / 2
    assert math.isclose(mse_probs(logits, target).item(), 0.0625, rel_tol=1e-6)


def test_masked_cross_entropy_keeps_masked_rows_in_denominator():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [5.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1, 0, 1])
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0])
    expected = (-math.log(0.5) - math.log(0.75)) / 4  # two kept rows, divided by all four
    assert math.isclose(masked_cross_entropy(logits, labels, mask).item(), expected, rel_tol=1e-6)

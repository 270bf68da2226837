"""FixMatch's fixed mask and FlexMatch's curriculum thresholds, checked by hand."""

import math

import pytest
import torch

from ssl_core.thresholds import FlexThreshold, fixed_mask


def test_fixed_mask_and_pseudo_labels():
    probs = torch.tensor([[0.96, 0.04], [0.5, 0.5], [0.02, 0.98], [0.05, 0.95]])
    mask, labels = fixed_mask(probs, 0.95)
    assert mask.tolist() == [1.0, 0.0, 1.0, 1.0]  # ≥ τ counts, as in the papers
    assert labels.tolist()[0] == 0 and labels.tolist()[2:] == [1, 1]


def test_flex_thresholds_start_at_zero_with_warmup():
    flex = FlexThreshold(num_classes=3, num_unlabeled=10, threshold=0.95)
    assert flex.class_thresholds().tolist() == [0.0, 0.0, 0.0]
    # with every threshold at 0, every pseudo-label is used at the start
    mask, _ = flex.mask(torch.tensor([[0.4, 0.3, 0.3], [0.2, 0.2, 0.6]]))
    assert mask.tolist() == [1.0, 1.0]


def _flex_after_counts(mapping: str, warmup: bool) -> FlexThreshold:
    flex = FlexThreshold(3, 10, threshold=0.9, mapping=mapping, warmup=warmup)
    # indices 0–3 confidently class 0, 4–5 class 1, index 6 not confident (0.8 < 0.9)
    probs = torch.tensor([[0.95, 0.03, 0.02]] * 4 + [[0.02, 0.95, 0.03]] * 2 + [[0.8, 0.1, 0.1]])
    flex.update(torch.arange(7), probs)
    return flex


def test_flex_counts_with_warmup_normalise_by_unused():
    flex = _flex_after_counts("linear", warmup=True)
    # σ = [4, 2, 0], unused σ₋₁ = 4 (indices 6–9): β = σ / max(4, 4)
    assert flex.selected.tolist() == [0, 0, 0, 0, 1, 1, -1, -1, -1, -1]
    assert torch.allclose(flex.class_thresholds(), torch.tensor([0.9, 0.45, 0.0]))


def test_flex_unseen_ratio_is_the_share_never_selected():
    flex = FlexThreshold(3, 10, threshold=0.9)
    assert flex.unseen_ratio().item() == 1.0  # nothing selected yet: all in warm-up
    flex = _flex_after_counts("linear", warmup=True)
    assert flex.unseen_ratio().item() == pytest.approx(0.4)  # indices 6–9 (6 was not confident)


def test_flex_without_warmup_normalises_by_largest_class():
    flex = FlexThreshold(3, 20, threshold=0.9, mapping="linear", warmup=False)
    probs = torch.tensor([[0.95, 0.03, 0.02]] * 4 + [[0.02, 0.95, 0.03]] * 2)
    flex.update(torch.arange(6), probs)
    # σ = [4, 2, 0]; 14 unused indices are ignored without warm-up: β = σ / 4
    assert torch.allclose(flex.class_thresholds(), torch.tensor([0.9, 0.45, 0.0]))


@pytest.mark.parametrize(
    ("mapping", "expected_half"),
    [("convex", 0.5 / 1.5), ("linear", 0.5), ("concave", math.log(1.5) / math.log(2))],
)
def test_flex_mappings(mapping, expected_half):
    flex = _flex_after_counts(mapping, warmup=True)  # β = [1, 0.5, 0]
    thresholds = flex.class_thresholds()
    assert thresholds[0].item() == pytest.approx(0.9)  # M(1) = 1 for every mapping
    assert thresholds[1].item() == pytest.approx(0.9 * expected_half)
    assert thresholds[2].item() == pytest.approx(0.0)


def test_flex_mask_uses_threshold_of_predicted_class():
    flex = _flex_after_counts("linear", warmup=True)  # thresholds [0.9, 0.45, 0]
    probs = torch.tensor([[0.85, 0.1, 0.05], [0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    mask, labels = flex.mask(probs)
    assert labels.tolist() == [0, 1, 2]
    assert mask.tolist() == [0.0, 1.0, 1.0]


def test_flex_update_overwrites_and_keeps_unconfident():
    flex = _flex_after_counts("convex", warmup=True)
    flex.update(torch.tensor([0, 4]), torch.tensor([[0.01, 0.01, 0.98], [0.5, 0.4, 0.1]]))
    assert flex.selected[:7].tolist() == [2, 0, 0, 0, 1, 1, -1]


def test_flex_state_round_trip():
    flex = _flex_after_counts("convex", warmup=True)
    other = FlexThreshold(3, 10, threshold=0.9)
    other.load_state_dict(flex.state_dict())
    assert torch.equal(other.class_thresholds(), flex.class_thresholds())

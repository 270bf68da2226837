"""ReMixMatch: aligned and sharpened guesses, mixed with the labeled batch, and the rotation head
trained (and checkpointed) beside the net."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_core.contract.spec import RunSpec
from tests.ssl_core.algorithms.support import PROBS, batch, make


def test_remixmatch_guess_aligns_then_sharpens():
    algo = make("remixmatch", alignment_momentum=0.5)  # T 0.5
    guess = algo.guess(nn.Identity(), PROBS.log())
    # aligned to the uniform labeled distribution with p̂ = (0.6, 0.4): row 1 ∝ (1.5, 0.25);
    # sharpened with T = ½: ∝ (1.5², 0.25²)
    assert guess[0].tolist() == pytest.approx([2.25 / 2.3125, 0.0625 / 2.3125], rel=1e-4)
    # row 4 (0.2, 0.8) ∝ (1/3, 2) → (1/9, 4) / (37/9)
    assert guess[3].tolist() == pytest.approx([1 / 37, 36 / 37], rel=1e-4)


def test_remixmatch_rotation_turns_each_image_by_its_own_angle():
    from ssl_core.algorithms.remixmatch import rotate

    images = torch.arange(8 * 3 * 3, dtype=torch.float32).view(8, 1, 3, 3)
    rotated, turns = rotate(images)
    for image, turned, k in zip(images, rotated, turns.tolist(), strict=True):
        assert torch.equal(turned, torch.rot90(image, k, dims=(1, 2)))


def test_remixmatch_trains_its_rotation_head_and_checkpoints_it():
    from ssl_core.nets import build_net

    torch.manual_seed(0)
    algo = make("remixmatch")
    model = build_net("cnn_small", num_classes=2, in_channels=1)
    head = algo.extra_modules(model)
    assert head is algo.rotation_head and head.out_features == 4
    images = [torch.randn(4, 1, 8, 8) for _ in range(3)]
    out = algo.step(model, batch(torch.randn(4, 1, 8, 8), [0, 1, 0, 1], images, [0] * 4), 10)
    out.loss.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    again = make("remixmatch")
    again.extra_modules(build_net("cnn_small", num_classes=2, in_channels=1))
    again.load_state_dict(algo.state_dict())
    assert torch.equal(again.rotation_head.weight, head.weight)
    assert make("remixmatch", rotation_weight=0).extra_modules(model) is None


def test_remixmatch_rotation_head_is_optimised_by_the_trainer():
    from ssl_core.trainer import Trainer

    trainer = Trainer(RunSpec.model_validate({"algorithm": "remixmatch", "device": "cpu"}))
    head = trainer.algorithm.rotation_head
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in head.parameters()} <= optimised

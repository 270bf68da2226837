"""Fidelity to the reference (docs: ../shared/reference/ssl_reference.md): each test
here failed on the code before its fix."""

from __future__ import annotations

import pytest
import torch

from ssl_core.contract.spec import RunSpec, build_spec
from ssl_core.data import DeviceData

# ---- flip: the dataset's default is honoured, a written list is used as written ----------


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [("digits", ["crop"]), ("svhn", ["crop"]), ("cifar10", ["crop", "flip"]),
     ("fashion_mnist", ["crop", "flip"])],
)  # fmt: skip
def test_default_weak_augment_flips_only_where_a_mirror_keeps_the_class(dataset, expected):
    spec = RunSpec.model_validate({"algorithm": "fixmatch", "dataset": dataset, "num_labels": 40})
    assert spec.weak_augment == expected
    # The stored spec names the choice, so reading it back gives the same run.
    assert RunSpec.model_validate(spec.to_json_dict()).weak_augment == expected


def test_a_written_flip_is_honoured_on_digits():
    spec = RunSpec.model_validate({"algorithm": "mixmatch", "weak_augment": ["crop", "flip"]})
    assert spec.weak_augment == ["crop", "flip"]


def test_digits_training_data_never_flips_by_default():
    data = DeviceData(RunSpec.model_validate({"algorithm": "fixmatch"}), torch.device("cpu"))
    assert "flip" not in data.weak_ops


def test_presets_flip_per_dataset_except_the_tutorials_written_list():
    assert build_spec({"algorithm": "fixmatch", "dataset": "svhn"}, "paper").weak_augment == [
        "crop"
    ]
    paper = build_spec({"algorithm": "fixmatch", "dataset": "cifar10"}, "paper")
    assert paper.weak_augment == ["crop", "flip"]
    tutorial = build_spec({"algorithm": "mixmatch", "dataset": "digits"}, "tutorial")
    assert tutorial.weak_augment == ["crop", "flip", "noise"]  # the seed's table, as it ran


# ---- weight decay: conv and linear weights only ------------------------------------------


def _step_with_zero_gradients(spec: RunSpec) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    from ssl_core.nets import build_net
    from ssl_core.trainer import make_optimizer

    torch.manual_seed(0)
    model = build_net(spec.net, 10, 1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = make_optimizer(spec, model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # the only change now is weight decay's
    return model, before


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_decay_shrinks_kernels_and_spares_batchnorm_and_biases(optimizer):
    spec = RunSpec.model_validate(
        {"algorithm": "supervised", "optimizer": optimizer, "weight_decay": 0.01}
    )
    model, before = _step_with_zero_gradients(spec)
    for name, p in model.named_parameters():
        kernel = name.endswith("weight") and p.dim() > 1  # conv and linear weights
        assert torch.equal(p, before[name]) != kernel, name
    assert model.fc.bias is not None and torch.equal(model.fc.bias, before["fc.bias"])


def test_decay_all_params_keeps_the_old_behaviour():
    spec = RunSpec.model_validate(
        {"algorithm": "supervised", "weight_decay": 0.01, "decay_all_params": True}
    )
    model, before = _step_with_zero_gradients(spec)
    # Every parameter shrinks towards 0 (BatchNorm biases start at 0 and stay there).
    shrunk = [not torch.equal(p, before[n]) for n, p in model.named_parameters() if p.any()]
    assert all(shrunk) and len(shrunk) == 10  # 4 conv, 4 BatchNorm, fc weight and bias


# ---- MixMatch: BatchNorm running statistics once a step --------------------------------


def _batchnorm_updates_in_one_mixmatch_step(**hparams) -> set[int]:
    from ssl_core.trainer import Trainer

    spec = {"algorithm": "mixmatch", "batch_size": 8, "device": "cpu", "hparams": hparams}
    trainer = Trainer(RunSpec.model_validate(spec))
    trainer.train_step(trainer.make_batch())
    bns = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    return {int(bn.num_batches_tracked) for bn in bns}


def test_mixmatch_updates_batchnorm_statistics_once_a_step():
    # Guess forward + three interleaved chunks; only the first chunk's statistics are kept.
    assert _batchnorm_updates_in_one_mixmatch_step() == {1}


def test_mixmatch_bn_stats_every_pass_is_the_seeds_four_updates():
    assert _batchnorm_updates_in_one_mixmatch_step(bn_stats_every_pass=True) == {4}
    tutorial = build_spec({"algorithm": "mixmatch"}, "tutorial")
    assert tutorial.hparams.bn_stats_every_pass


def test_frozen_batchnorm_pass_still_normalises_with_the_batch():
    from ssl_core.algorithms.base import frozen_bn_stats

    bn = torch.nn.BatchNorm2d(2).train()
    x = torch.randn(4, 2, 3, 3) * 5 + 3
    with frozen_bn_stats(bn):
        out = bn(x)
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.equal(bn.running_mean, torch.zeros(2)) and int(bn.num_batches_tracked) == 0


# ---- FlexMatch: mask from the previous learning status, then update; selection with ≥ ------


def _flexmatch(**hparams):
    from ssl_core.algorithms import build_algorithm

    spec = RunSpec.model_validate({"algorithm": "flexmatch", "hparams": hparams})
    return build_algorithm(spec, 10, 100, torch.device("cpu"))


def test_flexmatch_masks_with_the_previous_status_then_records_this_step():
    flex = _flexmatch(threshold_warmup=False)
    probs = torch.tensor([[0.005] * 10, [0.5 / 9] * 10])
    probs[0, 3], probs[1, 3] = 0.955, 0.5  # a confident and an unsure prediction of class 3
    mask, pseudo = flex.mask(probs, torch.tensor([0, 1]))
    # Before this step nothing was confident: every class threshold is 0, both are used. (Had
    # this step's confident image counted first, class 3's threshold would be τ, not 0.)
    assert mask.tolist() == [1.0, 1.0] and pseudo.tolist() == [3, 3]
    assert flex.thresholds.selected[:2].tolist() == [3, -1]  # recorded for the next step
    assert flex.thresholds.class_thresholds()[3] == pytest.approx(0.95)


def test_flexmatch_counts_a_confidence_equal_to_the_threshold():
    flex = _flexmatch(threshold=0.75)
    probs = torch.tensor([[0.75, 0.25] + [0.0] * 8])  # exactly τ (both exact in binary)
    flex.mask(probs, torch.tensor([5]))
    assert flex.thresholds.selected[5].item() == 0


# ---- Cutout: side drawn per image from U(0, fraction) × side, as USB ---------------------


def test_cutout_side_is_drawn_per_image_up_to_the_fraction():
    from ssl_core.data.augment import cutout

    torch.manual_seed(0)
    # On 96 × 96 with 0.25 the squares (at most 24 px) rarely touch the border: sides are visible.
    grey = cutout(torch.zeros(400, 1, 96, 96), 0.25)[:, 0] == 0.5
    rows, cols = grey.any(2).sum(1), grey.any(1).sum(1)  # (N,) extent of each square
    inside = rows == cols  # squares the border did not clip
    sides = rows[inside]
    assert sides.max() <= 24 and len(set(sides.tolist())) > 15  # many sides, none above 24
    # U(0, 24): mean side 12 (a fixed square: 24 for every image).
    assert 10 < sides.float().mean() < 14


def test_cutout_masks_a_third_of_the_largest_square_on_average():
    from ssl_core.data.augment import cutout

    torch.manual_seed(0)
    grey = (cutout(torch.zeros(4000, 1, 32, 32), 0.5)[:, 0] == 0.5).sum(dim=(1, 2))
    assert 55 < grey.float().mean() < 85  # E[side²] = 16²/3 ≈ 85 before clipping; fixed: 194


def test_enhance_factors_weaken_and_strengthen_like_the_original_randaugment():
    from ssl_core.data.augment_ops import op_brightness

    x = torch.full((3, 1, 2, 2), 0.5)
    out = op_brightness(x, torch.tensor([0.0, 0.5, 1.0]))[:, 0, 0, 0]  # factors 0.1, 1, 1.9
    assert out.tolist() == pytest.approx([0.05, 0.5, 0.95])

"""Fidelity to the reference (docs: ../shared/reference/ssl_reference.md, issue 13): each test
here failed on the code before its fix."""

from __future__ import annotations

import pytest
import torch

from ssl_core.data import DeviceData
from ssl_core.spec import RunSpec, build_spec

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

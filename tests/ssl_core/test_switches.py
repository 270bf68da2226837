"""The switches of the review against the papers and USB: the strong augmentation variant, the
realistic validation split, UDA's TSA on the correct class and the `paper` preset's precision."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_core.contract.spec import RunSpec, build_spec
from ssl_core.data.augment import RAND_AUGMENT_OPS, _rand_augment_rounds
from ssl_core.data.augment_ops import op_brightness, op_shear_x, op_translate_x
from tests.ssl_core.algorithms.support import LN, batch, logits, make


def one_op(x: torch.Tensor, op, magnitudes: torch.Tensor, variant: str) -> torch.Tensor:  # noqa: ANN001
    """Every image gets ``op`` with its own magnitude, through RandAugment's own rounds."""
    n, k = x.shape[0], RAND_AUGMENT_OPS.index(op)
    chosen = torch.full((1, n), k)
    counts = [[n if i == k else 0 for i in range(len(RAND_AUGMENT_OPS))]]
    out, order = _rand_augment_rounds(x.clone(), torch.arange(n), chosen, magnitudes[None], counts,
                                      variant)  # fmt: skip
    return out.index_select(0, torch.argsort(order))


def test_usb_enhance_factors_only_weaken():
    grey = torch.full((11, 3, 8, 8), 0.5)
    m = torch.linspace(0, 1, 11)
    usb = one_op(grey, op_brightness, m, "usb")[:, 0, 0, 0]
    fixmatch = one_op(grey, op_brightness, m, "fixmatch")[:, 0, 0, 0]
    assert usb.tolist() == pytest.approx((0.5 * (0.05 + 0.9 * m)).tolist(), abs=1e-6)
    assert fixmatch.max().item() == pytest.approx(0.95, abs=1e-6)  # 0.1 … 1.9 brightens too


def test_usb_shears_keep_the_top_row_and_fill_black():
    torch.manual_seed(0)
    x = torch.rand(6, 1, 16, 16)
    m = torch.full((6,), 1.0)
    usb = one_op(x, op_shear_x, m, "usb")
    assert torch.allclose(usb[:, :, 0], x[:, :, 0], atol=1e-5)  # sheared about the corner
    assert not torch.allclose(one_op(x, op_shear_x, m, "fixmatch")[:, :, 0], x[:, :, 0], atol=0.01)
    shifted = one_op(torch.ones(4, 1, 16, 16), op_translate_x, torch.full((4,), 1.0), "usb")
    assert shifted.min().item() == pytest.approx(0.0, abs=1e-6)  # PIL's default fill: black
    grey_fill = one_op(torch.ones(4, 1, 16, 16), op_translate_x, torch.full((4,), 1.0), "fixmatch")
    assert grey_fill.min().item() == pytest.approx(0.5, abs=1e-6)


def test_strong_augment_variant_sets_usbs_three_ops_unless_given():
    assert RunSpec(algorithm="fixmatch").strong_augment == "fixmatch"
    assert RunSpec(algorithm="fixmatch").hparams.strong_augment_ops == 2
    usb = RunSpec(algorithm="fixmatch", strong_augment="usb")
    assert usb.to_json_dict()["hparams"]["strong_augment_ops"] == 3
    given = RunSpec(algorithm="fixmatch", strong_augment="usb", hparams={"strong_augment_ops": 1})
    assert given.hparams.strong_augment_ops == 1
    paper = build_spec({"algorithm": "flexmatch", "dataset": "cifar10"}, "paper")
    assert (paper.strong_augment, paper.hparams.strong_augment_ops) == ("usb", 3)


def test_realistic_validation_holds_out_as_many_images_as_labels():
    spec = RunSpec(algorithm="fixmatch", dataset="fashion_mnist", val_split="realistic")
    assert spec.num_val_per_class * 10 == spec.num_labels == 40
    assert RunSpec(algorithm="fixmatch", dataset="fashion_mnist").num_val_per_class == 500
    stored = spec.to_json_dict()
    assert RunSpec.model_validate(stored).num_val_per_class == 4
    with pytest.raises(ValueError, match="num_val_per_class: the realistic val_split"):
        RunSpec(algorithm="fixmatch", val_split="realistic", num_val_per_class=50)


def test_uda_tsa_judges_the_correct_class_probability():
    # Row 0 is confidently wrong (0.9 on class 0, label 1): the labeled loss must keep it, the
    # top probability would have left it out. Row 1 is confidently right: left out (0.9 > 0.75).
    algo = make("uda", tsa_schedule="linear")
    x = logits((LN(9), 0), (LN(9), 0))
    b = batch(x, [1, 0], [logits((0, 0)), logits((0, 0))], [0])
    assert algo.step(nn.Identity(), b, step=50).loss_x.item() == pytest.approx(LN(10) / 2)


def test_paper_runs_in_fp32_unless_bf16_is_chosen():
    assert build_spec({"algorithm": "fixmatch"}, "paper").precision == "fp32"
    explicit_auto = build_spec({"algorithm": "fixmatch", "precision": "auto"}, "paper")
    assert explicit_auto.precision == "fp32"
    assert build_spec({"algorithm": "fixmatch", "precision": "bf16"}, "paper").precision == "bf16"
    assert RunSpec(algorithm="fixmatch").precision == "auto"  # bf16 on a GPU, as before

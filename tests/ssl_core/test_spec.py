"""The run spec: defaults, presets, and error messages that name the field."""

import pytest
from pydantic import ValidationError

from ssl_core.contract.spec import (
    PRESETS,
    RunSpec,
    build_spec,
    flatten_spec,
    set_dotted,
)
from ssl_core.contract.spec_errors import error_messages


def _errors(values):
    with pytest.raises(ValidationError) as info:
        RunSpec.model_validate(values)
    return {e["field"]: e["message"] for e in error_messages(info.value)}


def test_defaults_are_filled_per_dataset_and_algorithm():
    spec = RunSpec.model_validate({"algorithm": "fixmatch"})
    assert (spec.dataset, spec.net, spec.num_val_per_class, spec.uratio) == (
        "digits",
        "cnn_small",
        20,
        7,
    )
    assert spec.hparams.threshold == 0.95 and spec.hparams.unlabeled_weight == 1.0
    mixmatch = RunSpec.model_validate(
        {"algorithm": "mixmatch", "dataset": "cifar10", "num_labels": 250}
    )
    assert mixmatch.net == "wrn_28_2" and mixmatch.uratio == 1
    assert mixmatch.hparams.unlabeled_weight == 25.0  # sized to the default lr
    stored = mixmatch.to_json_dict()
    assert "algorithm" not in stored["hparams"]
    assert RunSpec.model_validate(stored) == mixmatch  # the stored form validates back


def test_field_errors_name_the_field():
    errors = _errors({"algorithm": "fixmatch", "hparams": {"threshold": 1.5}, "epochs": 0})
    assert (
        "hparams.threshold" in errors and "less than or equal to 1" in errors["hparams.threshold"]
    )
    assert "epochs" in errors
    errors = _errors({"algorithm": "mixmatch", "hparams": {"threshold": 0.9}})
    assert "temperature" in errors["hparams.threshold"]  # lists MixMatch's valid fields
    errors = _errors({"algorithm": "dino"})
    assert "supervised" in errors["algorithm"]
    errors = _errors({"algorithm": "fixmatch", "lr": float("nan")})
    assert "finite" in errors["lr"]


def test_cross_field_errors():
    assert "multiple of 10" in _errors({"algorithm": "fixmatch", "num_labels": 45})["num_labels"]
    assert (
        "at most 960 labels" in _errors({"algorithm": "fixmatch", "num_labels": 2000})["num_labels"]
    )
    assert (
        "steps"
        in _errors({"algorithm": "fixmatch", "epochs": 10000, "iters_per_epoch": 100000})["epochs"]
    )


def test_presets():
    paper = build_spec({"algorithm": "fixmatch", "dataset": "cifar10", "num_labels": 40}, "paper")
    assert (paper.lr, paper.ema_decay, paper.batch_size, paper.total_steps) == (
        0.03,
        0.999,
        64,
        2**20,
    )
    mix = build_spec({"algorithm": "mixmatch", "dataset": "cifar100", "num_labels": 2500}, "paper")
    assert mix.hparams.rampup_iters == 16384 and mix.hparams.unlabeled_weight == 150.0
    assert mix.weight_decay == 1e-3
    tutorial = build_spec({"algorithm": "mixmatch", "dataset": "cifar10"}, "tutorial")
    assert (tutorial.optimizer, tutorial.lr, tutorial.ema_decay) == ("adam", 0.002, 0.9)
    assert tutorial.weak_augment == ["crop", "flip", "noise"] and tutorial.num_labels == 120
    user_wins = build_spec({"algorithm": "mixmatch", "lr": 0.01}, "tutorial")
    assert user_wins.lr == 0.01
    assert set(PRESETS) == {"paper", "tutorial"}
    with pytest.raises(ValueError, match="valid presets: paper, tutorial"):
        build_spec({"algorithm": "mixmatch"}, "fast")


def test_flexmatch_warmup_is_off_by_default_and_on_in_the_presets():
    """600 CPU steps never leave FlexMatch's warm-up (docs/STUDY_fashion_mnist_40.md): off by
    default; the paper's setting in `paper`, and `tutorial` runs stay as they were."""
    assert build_spec({"algorithm": "flexmatch"}).hparams.threshold_warmup is False
    for preset in ("paper", "tutorial"):
        spec = build_spec({"algorithm": "flexmatch", "dataset": "cifar10"}, preset)
        assert spec.hparams.threshold_warmup is True
    assert not hasattr(build_spec({"algorithm": "fixmatch"}, "paper").hparams, "threshold_warmup")


def test_dotted_keys_round_trip():
    values = set_dotted({"algorithm": "mixmatch"}, "hparams.fixed_mixup_lambda", 0.3)
    spec = RunSpec.model_validate(values)
    assert spec.hparams.fixed_mixup_lambda == 0.3
    assert flatten_spec(spec.to_json_dict())["hparams.fixed_mixup_lambda"] == 0.3


def test_every_algorithm_is_scored_with_the_same_evaluation_ema():
    # Mean Teacher's teacher has its own decay (hparams.teacher_decay, 0.9 at CPU budgets), so
    # its score comes from the same 0.99 average as every other method's.
    algorithms = ("fixmatch", "mixmatch", "pimodel", "meanteacher")
    assert {RunSpec(algorithm=a).ema_decay for a in algorithms} == {0.99}
    spec = RunSpec(algorithm="meanteacher")
    assert spec.hparams.teacher_decay == 0.9
    assert spec.model_dump()["hparams"]["teacher_decay"] == 0.9  # stored: what the run used
    assert RunSpec(algorithm="meanteacher", ema_decay=0.9).ema_decay == 0.9
    paper = build_spec({"algorithm": "meanteacher"}, "paper")
    assert (paper.ema_decay, paper.hparams.teacher_decay) == (0.999, 0.999)


def test_the_learning_rate_defaults_by_optimizer_and_is_stored():
    sgd = build_spec({"algorithm": "fixmatch"})
    adam = build_spec({"algorithm": "mixmatch", "optimizer": "adam"})
    assert (sgd.lr, adam.lr) == (0.1, 0.002)  # SGD sized to short CPU runs (the study in docs/)
    assert sgd.to_json_dict()["lr"] == 0.1  # the stored spec names it
    assert build_spec({"algorithm": "fixmatch", "lr": 0.03}).lr == 0.03
    assert build_spec({"algorithm": "fixmatch"}, "paper").lr == 0.03  # presets keep theirs


def test_mixmatch_unlabeled_weight_is_sized_to_the_default_rate_and_presets_keep_the_papers():
    # With SGD, λu scales the unlabeled term's step like the learning rate: 25 at lr 0.1 keeps
    # the step 75 had at the papers' 0.03 (docs/STUDY_fashion_mnist_40.md).
    assert build_spec({"algorithm": "mixmatch"}).hparams.unlabeled_weight == 25.0
    paper = build_spec({"algorithm": "mixmatch", "dataset": "cifar10", "num_labels": 250}, "paper")
    tutorial = build_spec({"algorithm": "mixmatch"}, "tutorial")
    assert paper.hparams.unlabeled_weight == tutorial.hparams.unlabeled_weight == 75.0

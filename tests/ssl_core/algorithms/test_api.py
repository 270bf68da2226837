"""The contract between an algorithm and the trainer, as a plugin's author meets it: a step
returns facts by keyword, the trainer makes the statistics, state in buffers is saved for you,
and code written for the earlier API gets one error that says what changed."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Batch, StepOutput, labeled_weak_strong
from ssl_core.algorithms.fixmatch import FixMatch
from ssl_core.contract.spec import RunSpec
from ssl_core.losses import masked_cross_entropy
from ssl_core.thresholds import fixed_mask
from ssl_core.trainer import Trainer
from tests.ssl_core.test_training import TINY

WHAT_CHANGED = r"StepOutput by keyword.*docs/ALGORITHMS\.md"


def trainer_with(algorithm_class: type, **spec) -> Trainer:
    """A FixMatch run whose algorithm is ``algorithm_class`` (a plugin's, without installing)."""
    trainer = Trainer(RunSpec.model_validate({"algorithm": "fixmatch", **TINY, **spec}))
    num_classes = trainer.spec.dataset_info.num_classes
    trainer.algorithm = algorithm_class(
        trainer.spec, num_classes, trainer.data.num_unlabeled, trainer.device
    )
    return trainer


def test_a_positional_step_output_says_to_use_keywords():
    one = torch.ones(())
    with pytest.raises(TypeError, match="keywords only.*" + WHAT_CHANGED):
        StepOutput(one, one, one, one, one, one, 8)


def test_the_earlier_field_names_say_what_replaced_them():
    one = torch.ones(())
    with pytest.raises(TypeError, match="num_used.*" + WHAT_CHANGED):
        StepOutput(loss=one, loss_x=one, num_used=one)


def test_importing_the_earlier_statistics_function_says_what_changed():
    with pytest.raises(ImportError, match=WHAT_CHANGED):
        from ssl_core.algorithms.base import pseudo_label_stats  # noqa: F401


class EarlierFixMatch(FixMatch):
    """FixMatch's step as the earlier docs/ALGORITHMS.md told a plugin to write it."""

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x, logits_weak, logits_strong = labeled_weak_strong(model, batch)
        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        mask, pseudo_labels = fixed_mask(F.softmax(logits_weak.detach().float(), dim=1), 0.5)
        loss_u = masked_cross_entropy(logits_strong, pseudo_labels, mask)
        used, correct = self.pseudo_label_stats(mask, pseudo_labels, batch.u_true)
        weight = torch.ones(())
        return StepOutput(loss_x + loss_u, loss_x, loss_u, weight, used, correct, len(mask))


def test_a_step_written_for_the_earlier_api_fails_in_training_with_what_changed():
    trainer = trainer_with(EarlierFixMatch)
    with pytest.raises(AttributeError, match="pseudo_label_stats.*" + WHAT_CHANGED):
        trainer.run_epoch(callbacks=[])


class CountingFixMatch(FixMatch):
    """FixMatch with a state of its own: how many pseudo-labels of each class it admitted."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.register_buffer("admitted", torch.zeros(self.num_classes, device=self.device))

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        out = super().step(model, batch, step)
        self.admitted += torch.bincount(out.pseudo_labels, out.mask, self.num_classes)
        return out


def test_state_in_a_registered_buffer_is_checkpointed_without_writing_state_dict():
    trained = trainer_with(CountingFixMatch, hparams={"threshold": 0.3})
    trained.run_epoch(callbacks=[])
    assert trained.algorithm.admitted.sum() > 0
    state = trained.state_dict()
    assert set(state["algorithm"]) == {"admitted"}
    fresh = trainer_with(CountingFixMatch, hparams={"threshold": 0.3})
    fresh.load_state_dict(state)
    assert torch.equal(fresh.algorithm.admitted, trained.algorithm.admitted)


def test_the_evaluated_ema_is_handed_to_the_algorithm_but_not_saved_with_it():
    trainer = Trainer(RunSpec.model_validate({"algorithm": "meanteacher", **TINY}))
    assert trainer.algorithm.teacher is trainer.ema.model
    # The EMA is saved once, as "ema"; Mean Teacher's own teacher (teacher_decay) is its state.
    saved = trainer.state_dict()["algorithm"]
    assert saved and all(key.startswith("teacher_model.") for key in saved)


def test_algorithm_state_of_another_method_is_refused_naming_the_keys():
    flex = Trainer(RunSpec.model_validate({"algorithm": "flexmatch", **TINY}))
    free = Trainer(RunSpec.model_validate({"algorithm": "freematch", **TINY}))
    with pytest.raises(RuntimeError, match=r"(?s)FreeMatch.*Missing.*sat\.global_threshold"):
        free.algorithm.load_state_dict(flex.state_dict()["algorithm"])

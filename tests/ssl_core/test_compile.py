"""The spec's ``compile`` on the CPU: torch.compile (inductor) trains to eager's losses, logs
its compile time, and checkpoints move between eager and compiled runs.

Kept small because inductor's compile is the cost (tens of seconds on a loaded 2-core machine,
less once its on-disk cache is warm): the smallest net, one training graph (FixMatch's single
forward over labeled + weak + strong) and one evaluation graph (dynamic batch size); every
compiled run after the first reuses the process's graphs.
"""

import pytest
import torch

from ssl_core import train
from ssl_core.compiling import COMPILED_PREFIX, plain_state
from ssl_core.contract.callbacks import Callback
from ssl_core.contract.spec import RunSpec
from ssl_core.trainer import Trainer

SPEC = {
    "algorithm": "fixmatch",
    "epochs": 2,
    "iters_per_epoch": 2,
    "batch_size": 8,
    "uratio": 2,
    "eval_batch_size": 256,
    "device": "cpu",
}
COMPILE_KEY = "train/compile_seconds"
WALL_CLOCK = {"train/imgs_per_s", COMPILE_KEY}


class Recorder(Callback):
    def __init__(self, stop_after: int | None = None):
        self.epochs: list[tuple[int, dict[str, float]]] = []
        self.stop_after = stop_after

    def on_epoch_end(self, end):
        self.epochs.append((end.epoch, end.metrics))

    def should_stop(self):
        return self.stop_after is not None and len(self.epochs) >= self.stop_after


def assert_same_training(eager: dict[str, float], compiled: dict[str, float]) -> None:
    """Losses to float32 rounding (inductor fuses and reorders sums); an accuracy may differ by
    at most one image whose two best logits are that close (0.5 % of the smallest split)."""
    assert set(eager) - WALL_CLOCK == set(compiled) - WALL_CLOCK
    for key in set(eager) - WALL_CLOCK:
        tolerance = 0.5 if key.endswith(("top1", "top5")) else 1e-4
        assert compiled[key] == pytest.approx(eager[key], rel=1e-4, abs=tolerance), key


def test_compile_is_off_by_default_and_stored():
    spec = RunSpec.model_validate({"algorithm": "fixmatch"})
    assert spec.compile is False and spec.to_json_dict()["compile"] is False
    assert RunSpec.model_validate({"algorithm": "fixmatch", "compile": True}).compile is True


def test_compiled_training_matches_eager_and_logs_its_compile_time(tmp_path):
    torch._dynamo.reset()  # compile here whatever ran before, so the time measured is this run's
    eager, compiled = Recorder(), Recorder()
    train(SPEC, tmp_path / "eager", callbacks=[eager])
    train({**SPEC, "compile": True}, tmp_path / "compiled", callbacks=[compiled])
    assert [e for e, _ in compiled.epochs] == [1, 2]
    for (_, e), (_, c) in zip(eager.epochs, compiled.epochs, strict=True):
        assert_same_training(e, c)
        assert COMPILE_KEY not in e
    (_, first), (_, second) = compiled.epochs
    # Epoch 1 compiles the training graph (forward and backward) and the evaluation graph;
    # epoch 2 reuses both: nothing is compiled again per epoch or per evaluation batch size.
    assert first[COMPILE_KEY] > 0
    assert second[COMPILE_KEY] == 0.0
    # The checkpoint holds the plain modules' weights, key for key as an eager run's.
    eager_state = torch.load(tmp_path / "eager" / "checkpoint.pt", weights_only=True)
    compiled_state = torch.load(tmp_path / "compiled" / "checkpoint.pt", weights_only=True)
    for part in ("model", "ema"):
        assert list(compiled_state[part]) == list(eager_state[part])
        assert not any(key.startswith(COMPILED_PREFIX) for key in compiled_state[part])
    best = torch.load(tmp_path / "compiled" / "best.pt", weights_only=True)
    assert list(best["ema"]) == list(eager_state["ema"])


@pytest.mark.parametrize(
    ("first_half", "second_half"), [(True, True), (True, False), (False, True)]
)
def test_a_run_resumes_from_a_checkpoint_of_either_setting(tmp_path, first_half, second_half):
    full = Recorder()
    train(SPEC, tmp_path / "full", callbacks=[full])  # eager, uninterrupted: the reference
    stopped = Recorder(stop_after=1)
    summary = train({**SPEC, "compile": first_half}, tmp_path / "split", callbacks=[stopped])
    assert summary["stopped"] and summary["epochs"] == 1
    rest = Recorder()
    train({**SPEC, "compile": second_half}, tmp_path / "split", callbacks=[rest])
    # The checkpoint's epoch is replayed once (its saved metrics), then epoch 2 is trained.
    assert [e for e, _ in rest.epochs] == [1, 2]
    for (_, reference), (_, resumed) in zip(full.epochs, rest.epochs, strict=True):
        assert_same_training(reference, resumed)
    assert (COMPILE_KEY in rest.epochs[1][1]) == second_half


def test_weights_saved_from_a_compiled_wrapper_load_into_the_plain_net():
    # A notebook's torch.compile(net).state_dict() prefixes every key; creating the wrapper
    # compiles nothing, so this costs no compile time.
    source = Trainer(RunSpec.model_validate(SPEC))
    state = source.state_dict()
    state["model"] = torch.compile(source.model).state_dict()
    state["ema"] = torch.compile(source.ema.model).state_dict()
    assert all(key.startswith(COMPILED_PREFIX) for key in state["model"])
    target = Trainer(RunSpec.model_validate({**SPEC, "seed": 1}))
    target.load_state_dict(state)
    for a, b in zip(source.model.parameters(), target.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert list(plain_state(state["ema"])) == list(source.ema.model.state_dict())

"""Training behaviour a user notices: every algorithm trains, resume is exact, digits learns."""

import json

import pytest
import torch

from ssl_core import train
from ssl_core.contract.callbacks import Callback
from ssl_core.contract.catalog import BUILTIN_ALGORITHMS
from ssl_core.contract.metrics import expected_keys
from ssl_core.contract.spec import RunSpec
from ssl_core.trainer import Trainer

ALGORITHMS = list(BUILTIN_ALGORITHMS)  # the eleven: a new one is covered by being registered
TINY = {"epochs": 2, "iters_per_epoch": 3, "batch_size": 8, "eval_batch_size": 256, "device": "cpu"}
DESIGN_KEYS = {
    "train/loss", "train/loss_x", "train/loss_u", "train/unsup_weight", "train/lr",
    "train/mask_ratio", "train/pseudo_label_acc", "train/imgs_per_s", "labeled/top1",
    "val/loss", "val/top1", "val/top5", "test/loss", "test/top1", "test/top5",
}  # fmt: skip


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_three_steps_give_finite_loss_and_change_parameters(algorithm):
    trainer = Trainer(RunSpec.model_validate({"algorithm": algorithm, **TINY}))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    for _ in range(3):
        out = trainer.train_step(trainer.make_batch())
        assert torch.isfinite(out.loss)
    changed = [
        not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True)
    ]
    assert all(changed)


class Recorder(Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, end):
        self.epochs.append((end.epoch, end.step, end.metrics))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_design_metric_key_each_epoch(algorithm):
    recorder = Recorder()
    train({"algorithm": algorithm, **TINY}, callbacks=[recorder])
    assert [e[:2] for e in recorder.epochs] == [(1, 3), (2, 6)]
    unlabeled = {"train/mask_ratio", "train/pseudo_label_acc", "train/loss_u", "train/unsup_weight"}
    for _, _, metrics in recorder.epochs:
        # Exactly the metric-key table's keys for this algorithm: the baseline logs no unlabeled
        # loss, weight or pseudo-label diagnostics (they do not apply to it), the others all.
        assert set(metrics) == expected_keys(algorithm, 10)
        assert DESIGN_KEYS - unlabeled <= set(metrics)
        assert (unlabeled <= set(metrics)) == (algorithm != "supervised")
        assert not (unlabeled & set(metrics)) or algorithm != "supervised"
        if algorithm == "flexmatch":
            assert {f"train/threshold/{c}" for c in range(10)} <= set(metrics)
            assert 0.0 <= metrics["train/unseen_ratio"] <= 1.0  # the warm-up's share, logged
        else:
            assert "train/unseen_ratio" not in metrics
        assert all(isinstance(v, float) for v in metrics.values())


def test_a_callback_missing_a_method_is_refused_by_name():
    class Half:
        def on_step(self, step, total_steps):
            pass

    with pytest.raises(TypeError, match="on_train_start, should_stop, on_epoch_end"):
        train({"algorithm": "supervised", **TINY}, callbacks=[Half()])


def _comparable(metrics):
    return {k: v for k, v in metrics.items() if k != "train/imgs_per_s"}  # wall-clock varies


# The algorithms that keep state between steps (thresholds, estimates, a rotation head, the
# teacher: the EMA the checkpoint holds once, for evaluation and for Mean Teacher).
@pytest.mark.parametrize(
    "algorithm", ["mixmatch", "flexmatch", "freematch", "softmatch", "remixmatch", "meanteacher"]
)
def test_resume_gives_same_metrics_as_uninterrupted(tmp_path, algorithm):
    spec = {"algorithm": algorithm, **TINY, "epochs": 3}
    full = Recorder()
    train(spec, tmp_path / "full", callbacks=[full])

    class StopAfterFirstEpoch(Recorder):
        def should_stop(self):
            return len(self.epochs) >= 1

    first = StopAfterFirstEpoch()
    summary = train(spec, tmp_path / "split", callbacks=[first])
    assert summary["stopped"] and summary["epochs"] == 1
    rest = Recorder()
    train(spec, tmp_path / "split", callbacks=[rest])
    # the checkpoint's epoch is replayed once, then epochs 2 and 3 are new
    assert [e[0] for e in rest.epochs] == [1, 2, 3]
    for (ea, sa, ma), (eb, sb, mb) in zip(full.epochs, rest.epochs, strict=True):
        assert (ea, sa) == (eb, sb)
        assert _comparable(ma) == pytest.approx(_comparable(mb), rel=1e-6, abs=1e-6)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_same_seed_same_metrics():
    a, b = Recorder(), Recorder()
    train({"algorithm": "fixmatch", **TINY}, callbacks=[a])
    train({"algorithm": "fixmatch", **TINY}, callbacks=[b])
    assert [_comparable(m) for *_, m in a.epochs] == [_comparable(m) for *_, m in b.epochs]


def test_supervised_with_all_digits_labels_reaches_90_percent():
    summary = train(
        {
            "algorithm": "supervised",
            "num_labels": 960,
            "epochs": 10,
            "iters_per_epoch": 30,
            "batch_size": 64,
            "device": "cpu",
        }
    )
    assert summary["test_top1_at_best_val"] >= 90.0


def test_nan_loss_fails_with_a_readable_message():
    from ssl_core.contract.errors import TrainingDiverged

    trainer = Trainer(RunSpec.model_validate({"algorithm": "fixmatch", **TINY}))
    with torch.no_grad():
        trainer.model.fc.weight[0, 0] = float("nan")  # what an exploding update leaves behind
    with pytest.raises(TrainingDiverged, match=r"became nan during epoch 1 \(steps 1–3\)"):
        trainer.run_epoch(callbacks=[])

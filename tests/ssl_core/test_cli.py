"""`matchlab train` end to end on digits, and its errors."""

import json
import subprocess
import sys


def _train(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ssl_core.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_train_writes_files_and_prints_json(tmp_path):
    out = tmp_path / "run"
    result = _train(
        "--algorithm", "flexmatch", "--num-labels", "40", "--epochs", "2", "--iters-per-epoch", "3",
        "--set", "batch_size=8", "--set", "hparams.mapping=linear", "--out", str(out), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {
        "best_val_top1",
        "test_top1_at_best_val",
        "last_test_top1",
        "best_test_top1",
        "epochs",
        "seconds",
    }
    assert summary["epochs"] == 2
    assert json.loads((out / "spec.json").read_text())["hparams"]["mapping"] == "linear"
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert (out / "checkpoint.pt").exists()
    assert "epoch 2/2" in result.stderr  # the progress bar
    again = _train("--algorithm", "flexmatch", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_bad_spec_names_the_field(tmp_path):
    result = _train("--algorithm", "fixmatch", "--set", "hparams.threshold=2", cwd=tmp_path)
    assert result.returncode == 2
    assert "hparams.threshold" in result.stderr

"""The benchmark scripts still run (CI-sized): no figures are asserted, only that they work.

Speed claims live in BENCHMARKS.md, measured by the scripts themselves; these only keep the
scripts from rotting as the library and the app change under them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCH.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_train_speed_quick_times_every_algorithm_against_its_floor() -> None:
    out = run("train_speed.py", "--quick", "--threads", "1")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "target" in line]
    assert [row.split("|")[1].strip() for row in rows] == [
        "supervised",
        "mixmatch",
        "fixmatch",
        "flexmatch",
    ]
    assert "worst step/floor" in out


def test_store_benchmark_quick_runs_without_mlflow() -> None:
    out = run("store_vs_mlflow.py", "--quick", "--no-mlflow")
    assert "ingestion, points/s" in out and "/api/compare" in out and "/compare" in out


def test_study_speed_packs_runs_without_changing_their_metrics() -> None:
    # Three tiny rounds through the real stack (web, worker, embedded Redis); the exit status
    # carries the same-metrics check: packed runs equal the runs trained alone, bit for bit.
    done = subprocess.run(
        [sys.executable, str(BENCH / "study_speed.py"), "--pairs", "1", "--epochs", "1",
         "--iters", "2", "--seeds", "0"],
        capture_output=True, text=True, timeout=600, cwd=BENCH.parent,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert "runs/hour" in done.stdout and "passed, bit for bit" in done.stdout

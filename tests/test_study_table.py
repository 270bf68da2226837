"""``scripts/short_budget_table.py``: the study's closing table is what its runs say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "short_budget_table.py"


def table(*paths: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, paths)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return out.stdout.splitlines()


def line(algorithm: str, seed: int, overrides: str, top1: float) -> str:
    return json.dumps({
        "algorithm": algorithm, "seed": seed, "test_top1_at_best_val": top1,
        "overrides": f"{overrides} epochs=6 iters_per_epoch=100".strip(),
    })  # fmt: skip


def test_rows_pair_each_method_with_labels_only_by_seed(tmp_path):
    runs = tmp_path / "runs.jsonl"
    runs.write_text("\n".join([
        line("supervised", 0, "lr=0.1", 50.0), line("supervised", 1, "lr=0.1", 60.0),
        line("fixmatch", 0, "lr=0.1", 55.0), line("fixmatch", 1, "lr=0.1", 62.0),
        line("fixmatch", 1, "lr=0.1 uratio=3", 99.0),  # another setting: not this row's
        line("fixmatch", 0, "", 10.0),  # the old learning rate: not this row's either
    ]) + "\n")  # fmt: skip
    rows = {row.split(" | ")[0].lstrip("| "): row for row in table(runs)}
    assert "| 50.0 | 60.0 | 55.0 ± 7.1 (2) |" in rows["labels-only"]
    fixmatch = rows["FixMatch"]
    assert "| 55.0 | 62.0 | 58.5 ± 4.9 (2) | +5.0 / +2.0 | +3.5 ± 2.1 (2) | 2 of 2 |" in fixmatch
    # Paired t-test of the differences (5, 2): t = 3.5 / (2.12 / √2) = 2.33 with one degree of
    # freedom, where the two-sided p is 1 − 2·atan(t)/π = 0.258.
    assert fixmatch.endswith(" | 0.258 |")


def test_the_study_document_shows_the_table_its_runs_give():
    doc = (ROOT / "docs" / "STUDY_fashion_mnist_40.md").read_text()
    for row in table(ROOT / "docs" / "STUDY_fashion_mnist_40.runs.jsonl"):
        assert row in doc, row

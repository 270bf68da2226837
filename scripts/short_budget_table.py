"""The closing table of docs/STUDY_fashion_mnist_40.md, from the runs' JSON lines.

    python scripts/short_budget_table.py docs/STUDY_fashion_mnist_40.runs.jsonl

Each row of the table is a method at a setting: the runs (``scripts/short_budget_study.py``
output lines) whose algorithm matches and whose overrides are exactly the schedule plus the
``key=value`` items the row names. Per seed: test top-1 at best validation and the difference to
labels-only at the same seed (the labeled split moves every method by ~10 points, so the paired
difference is the number to read); then mean ± sample std over the seeds, and a paired t-test of
the differences (``scipy.stats.ttest_rel``, two-sided).
"""

from __future__ import annotations

import json
import statistics
import sys

from scipy import stats

SCHEDULE = ("epochs=6", "iters_per_epoch=100")  # every run's, the 6 × 100 steps
# (row label, algorithm, the overrides besides SCHEDULE that a run of the row carries, exactly)
BASELINE = ("labels-only", "supervised", ("lr=0.1",))
ROWS = [
    BASELINE,
    ("FixMatch", "fixmatch", ("lr=0.1",)),
    ("MixMatch (λu 25)", "mixmatch", ("lr=0.1", "hparams.unlabeled_weight=25")),
    ("FlexMatch (warm-up off)", "flexmatch", ("lr=0.1",)),
]


def results(paths: list[str]) -> list[dict]:
    return [json.loads(line) for path in paths for line in open(path) if line.strip()]


def by_seed(runs: list[dict], algorithm: str, needs: tuple[str, ...]) -> dict[int, float]:
    out = {}
    for run in runs:
        given = set(run["overrides"].split()) - set(SCHEDULE)
        if run["algorithm"] == algorithm and given == set(needs):
            out[run["seed"]] = run["test_top1_at_best_val"]
    return out


def mean_std(values: list[float], sign: str = "") -> str:
    if len(values) < 2:
        return f"{values[0]:{sign}.1f} (1)" if values else "–"
    return f"{statistics.mean(values):{sign}.1f} ± {statistics.stdev(values):.1f} ({len(values)})"


def main(paths: list[str]) -> None:
    runs = results(paths)
    base = by_seed(runs, BASELINE[1], BASELINE[2])
    seeds = sorted(base)
    head = " | ".join(f"seed {s}" for s in seeds)
    print(f"| method | {head} | mean ± std (n) | Δ vs labels-only per seed | mean Δ ± std | "
          "seeds above | paired t-test p |")  # fmt: skip
    print("|---" * (len(seeds) + 6) + "|")
    for label, algorithm, needs in ROWS:
        top1 = by_seed(runs, algorithm, needs)
        cells = " | ".join(f"{top1[s]:.1f}" if s in top1 else "–" for s in seeds)
        paired = [s for s in seeds if s in top1]
        if algorithm == BASELINE[1]:
            print(f"| {label} | {cells} | {mean_std([top1[s] for s in paired])} | – | – | – | – |")
            continue
        deltas = [top1[s] - base[s] for s in paired]
        delta_cells = " / ".join(f"{d:+.1f}" for d in deltas)
        above = f"{sum(d > 0 for d in deltas)} of {len(deltas)}"
        p = (
            f"{stats.ttest_rel([top1[s] for s in paired], [base[s] for s in paired]).pvalue:.3f}"
            if len(paired) > 1
            else "–"
        )
        print(
            f"| {label} | {cells} | {mean_std([top1[s] for s in paired])} | {delta_cells} "
            f"| {mean_std(deltas, '+')} | {above} | {p} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["docs/STUDY_fashion_mnist_40.runs.jsonl"])

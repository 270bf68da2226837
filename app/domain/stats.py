"""Statistics of a summary metric per group of runs, and of the difference to a baseline group.

- Per group: n, mean, sample std, and the 95 % confidence interval of the mean (Student t with
  n − 1 degrees of freedom).
- Against the baseline: the difference of means with its 95 % CI and a two-sided p-value. When
  both groups ran the same seeds (n ≥ 2), the runs pair by seed and the test is the paired t-test
  on the per-seed differences (the split and initialisation are shared, so it is the sharper and
  the right one); otherwise Welch's t-test (unequal variances) and its Welch–Satterthwaite CI.
- Several groups against one baseline: Holm's step-down adjustment of their p-values
  (``p_holm``), so "one of k differences looks significant" is not read as a finding; and a
  ``caution`` when a test rests on fewer than three seeds (or pairs) a side, where a t-test's
  normality and variance estimate cannot be trusted.

scipy does the distributions and tests (``scipy.stats``); this module only decides which test
applies and shapes the result. With fewer than two runs on a side, what cannot be estimated is
``None``, never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scipy import stats as sps

LEVEL = 0.95
# Below this many seeds (or pairs) a side, a t-test's p says little: it is shown with a caution.
TRUSTED_N = 3


def caution(n: int) -> str | None:
    """The note shown beside a p-value whose test rests on ``n`` seeds or pairs (the smaller
    side); None when ``n`` is enough."""
    if n >= TRUSTED_N:
        return None
    return f"n = {n}: too few seeds for a t-test to be trusted"


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment over the p-values that exist (None stays None): the i-th
    smallest of m is multiplied by m − i + 1, made non-decreasing in that order and capped at 1.
    It controls the family-wise error rate without assuming the tests are independent."""
    order = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(order)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{n, mean, std, ci95}`` of ``values`` (std and CI need n ≥ 2)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = sum(values) / n
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = sps.t.ppf(0.5 + LEVEL / 2, n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [float(mean - half), float(mean + half)]}


BANDS = ("std", "ci95")


def band_halfwidths(
    std: Sequence[float | None], count: Sequence[int], band: str
) -> list[float | None]:
    """Per point, half the width of the band drawn around a group's mean: the sample std, or the
    95 % CI of the mean (t with n − 1 df × std / √n); None where one member measures no spread."""
    if band == "std":
        return list(std)
    return [
        float(sps.t.ppf(0.5 + LEVEL / 2, n - 1) * s / math.sqrt(n))
        if s is not None and n >= 2
        else None
        for s, n in zip(std, count, strict=True)
    ]


def difference(
    a: list[float],
    b: list[float],
    a_seeds: list[Any] | None = None,
    b_seeds: list[Any] | None = None,
) -> dict[str, Any]:
    """``a`` − ``b``: the difference of means, its 95 % CI and p-value, and whether the runs were
    paired (both sides ran the same seeds, once each, n ≥ 2)."""
    out: dict[str, Any] = {
        "diff_vs_baseline": (sum(a) / len(a) - sum(b) / len(b)) if a and b else None,
        "diff_ci95": None,
        "p_value": None,
        "paired": False,
        "caution": None,
    }
    pairs_a = dict(zip(a_seeds or [], a, strict=True)) if a_seeds else {}
    pairs_b = dict(zip(b_seeds or [], b, strict=True)) if b_seeds else {}
    paired = len(pairs_a) == len(a) >= 2 and len(pairs_b) == len(b) and set(pairs_a) == set(pairs_b)
    if paired:
        seeds = sorted(pairs_a)
        result = sps.ttest_rel([pairs_a[s] for s in seeds], [pairs_b[s] for s in seeds])
    elif len(a) >= 2 and len(b) >= 2:
        result = sps.ttest_ind(a, b, equal_var=False)
    else:
        return out
    low, high = result.confidence_interval(LEVEL)
    n = len(a) if paired else min(len(a), len(b))
    out.update(p_value=_finite(result.pvalue), paired=paired, caution=caution(n))
    if _finite(low) is not None and _finite(high) is not None:
        out["diff_ci95"] = [float(low), float(high)]
    return out


def group_stats(
    groups: list[tuple[str, list[dict[str, Any]]]], metric: str, baseline: str | None
) -> dict[str, dict[str, Any]]:
    """For each ``(name, runs)`` (runs as dicts with ``spec`` and ``summary``): the summary of
    ``metric`` over its runs that have it, and the difference to the ``baseline`` group with
    its p-value Holm-adjusted over all the groups compared to that baseline."""
    values: dict[str, list[float]] = {}
    seeds: dict[str, list[Any]] = {}
    for name, runs in groups:
        got = [
            (r["spec"].get("seed"), float(v))
            for r in runs
            if isinstance(v := (r.get("summary") or {}).get(metric), (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
        ]
        seeds[name], values[name] = [s for s, _ in got], [v for _, v in got]
    out = {}
    for name, _ in groups:
        entry = {"metric": metric, **summarize(values[name])}
        if baseline is not None and name != baseline and baseline in values:
            entry.update(difference(values[name], values[baseline], seeds[name], seeds[baseline]))
        else:
            entry.update(
                diff_vs_baseline=None, diff_ci95=None, p_value=None, paired=False, caution=None
            )
        out[name] = entry
    adjusted = holm([entry["p_value"] for entry in out.values()])
    for entry, p_holm in zip(out.values(), adjusted, strict=True):
        entry["p_holm"] = p_holm
    return out

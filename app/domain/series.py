"""Metric series arithmetic: server-side downsampling and the compare aggregation.

Pure functions on plain lists, so the math is checked by hand in tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from app.store.models import Run
from ssl_core.contract.spec import flatten_spec

# Fields that describe a run but never change what it trains.
NON_TRAINING_FIELDS = ("name", "notes")


def downsample_indices(values: Sequence[float], max_points: int | None) -> list[int]:
    """Indices to keep: the first and last point and each bucket's minimum and maximum.

    Keeping extremes (not every k-th point) means a spike or a dip survives at any zoom.
    At most ``max_points`` indices, in order.
    """
    n = len(values)
    if max_points is None or n <= max_points:
        return list(range(n))
    if max_points < 2:
        raise ValueError("max_points: must be at least 2")
    buckets = (max_points - 2) // 2
    keep = {0, n - 1}
    interior = n - 2
    for b in range(buckets):
        lo = 1 + b * interior // buckets
        hi = 1 + (b + 1) * interior // buckets
        if lo >= hi:
            continue
        chunk = range(lo, hi)
        keep.add(min(chunk, key=lambda i: values[i]))
        keep.add(max(chunk, key=lambda i: values[i]))
    return sorted(keep)


def take(series: dict[str, list[Any]], indices: Sequence[int]) -> dict[str, list[Any]]:
    if len(indices) == len(next(iter(series.values()), [])):
        return series  # nothing dropped (indices are sorted and unique)
    return {name: [column[i] for i in indices] for name, column in series.items()}


def downsample(series: dict[str, list[Any]], max_points: int | None) -> dict[str, list[Any]]:
    """Downsample a ``{"epoch", "step", "wall_time", "value"}`` series by its values."""
    return take(series, downsample_indices(series["value"], max_points))


def aggregate(
    members: Sequence[dict[str, list[Any]]], x: str = "epoch"
) -> dict[str, list[float | int]]:
    """Per x value: mean, sample std (n-1; None for one member: no spread is measured), min,
    max and count of members."""
    xs = members[0][x] if members else []
    if all(series[x] == xs for series in members):
        # The usual case (same epochs in every member): transpose in C instead of per point.
        by_x = dict(
            zip(xs, zip(*(series["value"] for series in members), strict=True), strict=True)
        )
    else:
        by_x = {}
        for series in members:
            for x_value, value in zip(series[x], series["value"], strict=True):
                by_x.setdefault(x_value, []).append(value)
    out: dict[str, list[Any]] = {"x": [], "mean": [], "std": [], "min": [], "max": [], "count": []}
    for x_value in sorted(by_x):
        values = by_x[x_value]
        out["x"].append(x_value)
        n = len(values)
        mean = sum(values) / n
        # Plain float arithmetic: statistics.stdev's exact fractions cost seconds at 50 runs.
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        out["mean"].append(mean)
        out["std"].append(std)
        out["min"].append(min(values))
        out["max"].append(max(values))
        out["count"].append(len(values))
    return out


def differing_fields(specs: Sequence[dict[str, Any]]) -> list[str]:
    """Flattened spec fields whose values are not the same in every run (in spec order)."""
    flats = [flatten_spec(spec) for spec in specs]
    fields: list[str] = []
    for flat in flats:
        fields.extend(f for f in flat if f not in fields and f not in NON_TRAINING_FIELDS)
    return [f for f in fields if len({repr(flat.get(f)) for flat in flats}) > 1]


def group_runs(
    runs: Sequence[Run], group_by: str | None
) -> tuple[list[tuple[str, dict[str, Any], list[Run]]], list[str]]:
    """Split runs into ``(name, value, members)`` groups, in the order runs first appear.

    ``group_by``: comma-separated dotted spec fields, ``none`` (each run alone) or empty, which
    groups runs that differ only in their seed. Returns the groups and the differing fields.
    """
    differing = differing_fields([run.spec for run in runs])
    if group_by == "none":
        return [(run.name, {"id": run.id}, [run]) for run in runs], differing
    if group_by:
        fields = [f.strip() for f in group_by.split(",") if f.strip()]
        known = {f for run in runs for f in flatten_spec(run.spec)}
        unknown = [f for f in fields if f not in known]
        if unknown:
            raise ValueError(
                f"group_by: unknown spec field {unknown[0]!r}; use 'none' or one of "
                f"{', '.join(sorted(known - set(NON_TRAINING_FIELDS)))}"
            )
    else:
        fields = [f for f in differing if f != "seed"]
    labels = _label_fields(runs, fields)
    groups: dict[str, tuple[str, dict[str, Any], list[Run]]] = {}
    for run in runs:
        flat = flatten_spec(run.spec)
        value = {f: flat.get(f) for f in fields}
        key = repr(sorted(value.items()))
        if key not in groups:
            groups[key] = (_group_name({f: value[f] for f in labels}, run), value, [])
        groups[key][2].append(run)
    return list(groups.values()), differing


def _label_fields(runs: Sequence[Run], fields: list[str]) -> list[str]:
    """The fields worth naming a group by: ``algorithm``, and those that vary within one
    algorithm (its other hyperparameters and defaults follow from the algorithm itself)."""
    by_algorithm: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_algorithm.setdefault(run.algorithm, []).append(run.spec)
    varying = {f for specs in by_algorithm.values() for f in differing_fields(specs)}
    return [f for f in fields if f == "algorithm" or f in varying] or fields


def _group_name(value: dict[str, Any], run: Run) -> str:
    if not value:
        return str(run.spec.get("algorithm"))
    bare = ("algorithm", "dataset", "net")
    return ", ".join(
        str(v) if k in bare or (len(value) == 1 and isinstance(v, str)) else f"{k}={v}"
        for k, v in value.items()
    )

"""Downsampling and aggregation arithmetic, checked by hand."""

from __future__ import annotations

import math

from app.domain.series import aggregate, downsample, downsample_indices


def test_short_series_are_untouched():
    assert downsample_indices([3.0, 1.0, 2.0], 3) == [0, 1, 2]
    assert downsample_indices([3.0, 1.0, 2.0], None) == [0, 1, 2]


def test_keeps_first_last_and_each_buckets_extremes():
    values = [5, 1, 9, 2, 2, 8, 0, 3, 4, 7]
    # max_points 6 → 2 buckets over the 8 interior points: indices 1-4 and 5-8.
    # Bucket 1 values [1, 9, 2, 2]: min at 1, max at 2. Bucket 2 [8, 0, 3, 4]: max at 5, min at 6.
    assert downsample_indices(values, 6) == [0, 1, 2, 5, 6, 9]


def test_a_spike_survives_downsampling():
    values = [0.0] * 1000
    values[537] = 100.0
    kept = downsample_indices(values, 20)
    assert len(kept) <= 20 and 537 in kept and kept[0] == 0 and kept[-1] == 999


def test_two_points_keep_only_the_ends():
    assert downsample_indices(list(range(10)), 2) == [0, 9]


def test_downsample_keeps_columns_aligned():
    series = {"epoch": [1, 2, 3, 4], "step": [10, 20, 30, 40], "value": [1.0, 9.0, 2.0, 3.0]}
    assert downsample(series, 3) == {"epoch": [1, 4], "step": [10, 40], "value": [1.0, 3.0]}


def test_aggregate_mean_sample_std_min_max_count():
    a = {"epoch": [1, 2, 3], "value": [10.0, 20.0, 30.0]}
    b = {"epoch": [1, 2], "value": [14.0, 26.0]}
    out = aggregate([a, b])
    assert out["x"] == [1, 2, 3]
    assert out["mean"] == [12.0, 23.0, 30.0]
    # sample std of {10, 14}: sqrt(((−2)² + 2²) / 1) = sqrt(8); of {20, 26}: sqrt(18); one member: none.
    assert math.isclose(out["std"][0], math.sqrt(8))
    assert math.isclose(out["std"][1], math.sqrt(18))
    assert out["std"][2] is None
    assert out["min"] == [10.0, 20.0, 30.0] and out["max"] == [14.0, 26.0, 30.0]
    assert out["count"] == [2, 2, 1]

"""Metric series over HTTP: keys, downsampling and the CSV export."""

from __future__ import annotations

import csv
import io

from tests.app.conftest import add_points


def make_run(client) -> int:
    return client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]


def test_metrics_returns_each_series_in_epoch_order(client, engine):
    run_id = make_run(client)
    add_points(engine, run_id, "val/top1", [50.0, 60.0, 55.0])
    add_points(engine, run_id, "train/loss", [2.0, 1.0, 0.5])
    body = client.get(f"/api/runs/{run_id}/metrics").json()
    assert body["run_id"] == run_id
    assert body["keys"] == ["train/loss", "val/top1"]
    assert body["series"]["val/top1"] == {
        "epoch": [1, 2, 3],
        "step": [10, 20, 30],
        "wall_time": [1001.0, 1002.0, 1003.0],
        "value": [50.0, 60.0, 55.0],
    }
    only = client.get(f"/api/runs/{run_id}/metrics?keys=train/loss").json()
    assert list(only["series"]) == ["train/loss"]
    assert client.get("/api/runs/999/metrics").status_code == 404


def test_metrics_downsample_keeps_ends_and_extremes(client, engine):
    run_id = make_run(client)
    values = [float(i % 7) for i in range(200)]
    values[123] = -50.0
    add_points(engine, run_id, "val/loss", values)
    series = client.get(f"/api/runs/{run_id}/metrics?max_points=10").json()["series"]["val/loss"]
    assert len(series["epoch"]) <= 10
    assert series["epoch"][0] == 1 and series["epoch"][-1] == 200
    assert -50.0 in series["value"] and series["epoch"][series["value"].index(-50.0)] == 124
    assert series["epoch"] == sorted(series["epoch"])
    bad = client.get(f"/api/runs/{run_id}/metrics?max_points=1")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "max_points"


def test_csv_has_one_row_per_epoch_and_a_column_per_key(client, engine):
    run_id = make_run(client)
    add_points(engine, run_id, "val/top1", [50.0, 60.0])
    add_points(engine, run_id, "train/loss", [2.0, 1.5])
    response = client.get(f"/api/runs/{run_id}/metrics.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"matchlab-run-{run_id}-metrics.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["epoch", "step", "wall_time", "train/loss", "val/top1"]
    assert [(r["epoch"], r["train/loss"], r["val/top1"]) for r in rows] == [
        ("1", "2.0", "50.0"),
        ("2", "1.5", "60.0"),
    ]

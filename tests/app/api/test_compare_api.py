"""/api/compare: groups, mean and sample std checked by hand, members' own series."""

from __future__ import annotations

import math

import pytest

from tests.app.conftest import add_points


@pytest.fixture
def three_runs(client, engine) -> dict[str, int]:
    def run(**spec):
        return client.post("/api/runs", json=spec).json()["id"]

    ids = {
        "fix0": run(algorithm="fixmatch", seed=0),
        "fix1": run(algorithm="fixmatch", seed=1),
        "mix0": run(algorithm="mixmatch", seed=0),
    }
    add_points(engine, ids["fix0"], "val/top1", [50.0, 60.0, 70.0])
    add_points(engine, ids["fix1"], "val/top1", [54.0, 66.0])  # one epoch behind
    add_points(engine, ids["mix0"], "val/top1", [40.0, 45.0, 50.0])
    add_points(engine, ids["fix0"], "train/loss", [3.0, 2.0, 1.0])
    return ids


def test_default_groups_runs_that_differ_only_in_seed(client, three_runs):
    ids = ",".join(str(i) for i in three_runs.values())
    body = client.get(f"/api/compare?runs={ids}&keys=val/top1").json()
    assert body["keys"] == ["val/top1"] and body["x"] == "epoch"
    groups = {g["name"]: g for g in body["groups"]}
    assert list(groups) == ["fixmatch", "mixmatch"]
    fix = groups["fixmatch"]
    assert fix["runs"] == [three_runs["fix0"], three_runs["fix1"]]
    assert fix["value"]["algorithm"] == "fixmatch"
    series = fix["series"]["val/top1"]
    assert series["x"] == [1, 2, 3]
    assert series["mean"] == [52.0, 63.0, 70.0]
    # sample std (n-1): {50, 54} → sqrt(8); {60, 66} → sqrt(18); one member → none
    assert math.isclose(series["std"][0], math.sqrt(8))
    assert math.isclose(series["std"][1], math.sqrt(18))
    assert series["std"][2] is None
    assert series["min"] == [50.0, 60.0, 70.0] and series["max"] == [54.0, 66.0, 70.0]
    assert series["count"] == [2, 2, 1]
    assert groups["mixmatch"]["series"]["val/top1"]["mean"] == [40.0, 45.0, 50.0]
    # Members carry their own series, group and spec.
    members = {r["id"]: r for r in body["runs"]}
    assert members[three_runs["fix1"]]["group"] == "fixmatch"
    assert members[three_runs["fix1"]]["series"]["val/top1"]["value"] == [54.0, 66.0]
    assert members[three_runs["mix0"]]["spec"]["algorithm"] == "mixmatch"
    assert body["differing_fields"][:2] == ["algorithm", "seed"]


def test_group_by_a_field_or_none(client, three_runs):
    ids = ",".join(str(i) for i in three_runs.values())
    by_seed = client.get(f"/api/compare?runs={ids}&group_by=seed").json()
    assert [(g["name"], g["runs"]) for g in by_seed["groups"]] == [
        ("seed=0", [three_runs["fix0"], three_runs["mix0"]]),
        ("seed=1", [three_runs["fix1"]]),
    ]
    assert by_seed["groups"][0]["series"]["val/top1"]["mean"] == [45.0, 52.5, 60.0]
    alone = client.get(f"/api/compare?runs={ids}&group_by=none").json()
    assert len(alone["groups"]) == 3


def test_compare_by_step_several_keys_and_downsampled(client, three_runs):
    run_id = three_runs["fix0"]
    body = client.get(f"/api/compare?runs={run_id}&keys=val/top1,train/loss&x=step").json()
    assert body["groups"][0]["series"]["train/loss"]["x"] == [10, 20, 30]
    small = client.get(f"/api/compare?runs={run_id}&max_points=2").json()
    assert small["groups"][0]["series"]["val/top1"]["x"] == [1, 3]
    assert small["runs"][0]["series"]["val/top1"]["epoch"] == [1, 3]


def test_compare_a_whole_sweep(client, engine):
    body = {"base": {"algorithm": "fixmatch"}, "grid": {"hparams.threshold": [0.8, 0.9]}}
    sweep = client.post("/api/sweeps", json=body).json()
    for run, values in zip(sweep["runs"], ([1.0, 2.0], [3.0, 4.0]), strict=True):
        add_points(engine, run["id"], "val/top1", values)
    groups = client.get(f"/api/compare?sweep={sweep['id']}").json()["groups"]
    assert [g["name"] for g in groups] == ["hparams.threshold=0.8", "hparams.threshold=0.9"]


def test_compare_errors(client, three_runs):
    assert client.get("/api/compare").status_code == 422
    missing = client.get("/api/compare?runs=1,999")
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    bad = client.get(f"/api/compare?runs={three_runs['fix0']}&group_by=colour")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "group_by"
    assert "hparams.threshold" in bad.json()["detail"][0]["message"]
    assert client.get("/api/compare?runs=1&x=wall").status_code == 422
    assert client.get("/api/compare?runs=a,b").json()["detail"][0]["field"] == "runs"

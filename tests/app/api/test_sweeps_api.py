"""Sweeps: the cartesian product, validated whole before anything is stored, and capped."""

from __future__ import annotations

import redis
from sqlmodel import Session, func, select

from app.domain.sweeps import MAX_SWEEP_RUNS
from app.queue import QUEUE
from app.store.models import Run, Sweep


def stored(engine) -> tuple[int, int]:
    with Session(engine) as session:
        runs = session.exec(select(func.count()).select_from(Run)).one()
        sweeps = session.exec(select(func.count()).select_from(Sweep)).one()
    return runs, sweeps


def test_sweep_is_the_product_of_grid_and_seeds(client, engine, settings):
    body = {
        "name": "tau",
        "base": {"algorithm": "fixmatch", "epochs": 2},
        "grid": {"hparams.threshold": [0.9, 0.95], "lr": [0.03, 0.01]},
        "seeds": [0, 1, 2],
    }
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 201, response.text
    sweep = response.json()
    assert len(sweep["runs"]) == 2 * 2 * 3
    combos = {
        (r["spec"]["hparams"]["threshold"], r["spec"]["lr"], r["spec"]["seed"])
        for r in sweep["runs"]
    }
    assert combos == {(t, lr, s) for t in (0.9, 0.95) for lr in (0.03, 0.01) for s in (0, 1, 2)}
    assert all(r["sweep_id"] == sweep["id"] and r["spec"]["epochs"] == 2 for r in sweep["runs"])
    # What tells members apart comes first, with short field names: tables cut long names.
    assert sweep["runs"][0]["name"] == "threshold=0.9, lr=0.03, seed=0 · tau"
    assert sweep["status_counts"] == {"queued": 12}
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 12
    got = client.get(f"/api/sweeps/{sweep['id']}").json()
    assert [r["id"] for r in got["runs"]] == [r["id"] for r in sweep["runs"]]
    listed = client.get("/api/sweeps").json()
    assert listed[0]["id"] == sweep["id"] and listed[0]["num_runs"] == 12
    runs = client.get(f"/api/runs?sweep={sweep['id']}&limit=500").json()
    assert runs["total"] == 12


def test_grid_over_algorithms_routes_hyperparameters(client):
    body = {"base": {"algorithm": "fixmatch"}, "grid": {"algorithm": ["mixmatch", "flexmatch"]}}
    runs = client.post("/api/sweeps", json=body).json()["runs"]
    assert [r["spec"]["algorithm"] for r in runs] == ["mixmatch", "flexmatch"]
    assert "temperature" in runs[0]["spec"]["hparams"] and "mapping" in runs[1]["spec"]["hparams"]


def test_one_bad_combination_stores_nothing(client, engine, settings):
    body = {
        "base": {"algorithm": "fixmatch"},
        "grid": {"hparams.threshold": [0.9, 1.5]},
        "seeds": [0, 1],
    }
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 1  # reported once, not once per seed
    assert detail[0]["field"] == "hparams.threshold"
    assert "hparams.threshold=1.5" in detail[0]["message"]
    assert stored(engine) == (0, 0)
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 0


def test_sweep_over_the_cap_is_refused(client, engine):
    body = {
        "base": {"algorithm": "fixmatch"},
        "grid": {"lr": [0.001 * (i + 1) for i in range(21)], "hparams.threshold": [0.9, 0.95]},
        "seeds": list(range(5)),
    }
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 422
    message = response.json()["detail"][0]["message"]
    assert "210 runs" in message and f"at most {MAX_SWEEP_RUNS}" in message
    assert stored(engine) == (0, 0)


def test_sweep_input_errors(client):
    bad_key = client.post(
        "/api/sweeps", json={"base": {"algorithm": "fixmatch"}, "grid": {"hparams.tau": [1]}}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["detail"][0]["field"] == "hparams.tau"
    empty = client.post("/api/sweeps", json={"base": {"algorithm": "fixmatch"}, "grid": {"lr": []}})
    assert empty.json()["detail"][0] == {"field": "grid.lr", "message": "needs at least one value"}
    no_base = client.post("/api/sweeps", json={"grid": {}})
    assert no_base.status_code == 422 and no_base.json()["detail"][0]["field"] == "base"
    assert client.get("/api/sweeps/999").status_code == 404

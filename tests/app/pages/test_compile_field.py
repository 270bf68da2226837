"""The spec's ``compile`` through the app: run form, API, sweeps and the run page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.pages.run_charts import run_charts
from tests.app.conftest import add_points
from tests.app.pages.test_pages import FORM


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_run_form_offers_compile_off_by_default_and_stores_it(pages):
    html = pages.get("/runs/new?algorithm=fixmatch").text
    select = re.search(r'<select id="f-compile" name="compile">(.*?)</select>', html, re.S)
    assert select, "no compile field on the run form"
    assert '<option value="false" selected>' in select.group(1)
    response = pages.post("/runs/new", data={**FORM, "compile": "true"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert pages.get(f"/api/runs/{run_id}").json()["spec"]["compile"] is True
    page = pages.get(f"/runs/{run_id}").text
    assert re.search(r"<tr><td>compile</td><td>true</td></tr>", page)


def test_the_api_stores_compile_and_refuses_a_non_boolean(pages):
    eager = pages.post("/api/runs", json={"algorithm": "fixmatch"}).json()
    assert eager["spec"]["compile"] is False  # the default is written into the stored spec
    compiled = pages.post("/api/runs", json={"algorithm": "fixmatch", "compile": True}).json()
    assert compiled["spec"]["compile"] is True
    bad = pages.post("/api/runs", json={"algorithm": "fixmatch", "compile": "sometimes"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["detail"]] == ["compile"]


def test_a_sweep_over_compile_makes_an_eager_and_a_compiled_run(pages):
    body = {"base": {"algorithm": "fixmatch"}, "grid": {"compile": [False, True]}}
    runs = pages.post("/api/sweeps", json=body).json()["runs"]
    assert [r["spec"]["compile"] for r in runs] == [False, True]


def test_the_compile_time_chart_is_drawn_for_compiled_runs_only(pages, engine):
    run_id = pages.post("/api/runs", json={"algorithm": "fixmatch", "compile": True}).json()["id"]
    add_points(engine, run_id, "train/compile_seconds", [12.5, 0.0])
    charts = {c["id"]: c for c in run_charts("fixmatch", 10, {}, 2, {"compile": True})}
    assert charts["compile"]["keys"] == ["train/compile_seconds"]
    assert "compile" not in {c["id"] for c in run_charts("fixmatch", 10, {}, 2, {})}
    page = pages.get(f"/runs/{run_id}").text
    assert "torch.compile time" in page

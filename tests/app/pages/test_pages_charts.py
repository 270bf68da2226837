"""Chart pages and their math: compare (grouping, smoothing, CSV = what is drawn), sweeps."""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import math
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.pages.figures import ALGORITHM_COLORS, ema
from app.pages.run_charts import run_charts
from ssl_core.contract import catalog
from tests.app.conftest import add_points, set_run


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def submit(client: TestClient, **spec) -> int:
    return client.post("/api/runs", json={"epochs": 3, **spec}).json()["id"]


def embedded(html: str, element_id: str) -> list:
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def test_ema_is_debiased_and_keeps_gaps():
    assert ema([52.0, 63.0, None, 70.0], 0.0) == [52.0, 63.0, None, 70.0]
    smooth = ema([52.0, 63.0, None, 70.0], 0.5)
    # s1 = 0.5·52 / (1 − 0.5) = 52;  s2 = (0.5·26 + 0.5·63) / (1 − 0.25) = 44.5 / 0.75
    assert smooth[0] == 52.0 and math.isclose(smooth[1], 44.5 / 0.75) and smooth[2] is None
    assert math.isclose(smooth[3], (0.5 * 44.5 + 0.5 * 70.0) / (1 - 0.125))


@pytest.fixture
def two_algorithms(pages, engine) -> dict[str, int]:
    ids = {
        "fix0": submit(pages, algorithm="fixmatch", seed=0),
        "fix1": submit(pages, algorithm="fixmatch", seed=1),
        "mix0": submit(pages, algorithm="mixmatch", seed=0),
    }
    add_points(engine, ids["fix0"], "val/top1", [50.0, 60.0, 70.0])
    add_points(engine, ids["fix1"], "val/top1", [54.0, 66.0, 72.0])
    add_points(engine, ids["mix0"], "val/top1", [40.0, 45.0, 50.0])
    return ids


def test_compare_csv_holds_exactly_the_plotted_lines(pages, two_algorithms):
    ids = ",".join(map(str, two_algorithms.values()))
    query = f"runs={ids}&keys=val/top1&smooth=0.5"
    rows = list(csv.DictReader(io.StringIO(pages.get(f"/compare.csv?{query}").text)))
    means = {r["name"]: r for r in rows if r["kind"] == "mean" and r["epoch"] == "2"}
    fix = means["fixmatch (n=2)"]
    # epoch means 52, 63 → smoothed 44.5 / 0.75; std √8, √18 → smoothed likewise
    assert math.isclose(float(fix["value"]), 44.5 / 0.75)
    expected_std = (0.5 * 0.5 * math.sqrt(8) + 0.5 * math.sqrt(18)) / 0.75
    assert math.isclose(float(fix["std"]), expected_std) and fix["count"] == "2"
    # Members are drawn under their group's mean; a group of one is just its mean line.
    members = {r["run_id"] for r in rows if r["kind"] == "run"}
    assert members == {str(two_algorithms["fix0"]), str(two_algorithms["fix1"])}
    assert "mixmatch (n=1)" in {r["name"] for r in rows}

    # The page draws the same numbers: its figure JSON has the CSV's mean line.
    figures = embedded(pages.get(f"/compare?{query}").text, "figures")
    (figure,) = figures
    # Drawn with a warning in the legend (n < 3); the CSV keeps the plain name.
    # Trace names are escaped for Plotly's pseudo-HTML (app/pages/plot_text.py): shown as "n<3".
    mean_line = next(t for t in figure["figure"]["data"] if t["name"] == "fixmatch (n=2) ⚠ n&lt;3")
    csv_line = [float(r["value"]) for r in rows if r["name"] == "fixmatch (n=2)"]
    assert mean_line["y"] == pytest.approx(csv_line)
    # Grouped by algorithm: each group wears its algorithm's colour.
    assert mean_line["line"]["color"] == ALGORITHM_COLORS["fixmatch"]


def test_compare_without_grouping_and_on_wall_time(pages, two_algorithms):
    ids = ",".join(map(str, two_algorithms.values()))
    rows = list(
        csv.DictReader(io.StringIO(pages.get(f"/compare.csv?runs={ids}&group_by=none").text))
    )
    assert {r["kind"] for r in rows} == {"run"} and len(rows) == 9
    timed = list(
        csv.DictReader(io.StringIO(pages.get(f"/compare.csv?runs={ids}&x=wall_time").text))
    )
    # add_points writes epochs one second apart; minutes since start never go backwards.
    fix0 = [float(r["wall_time"]) for r in timed if r["run_id"] == str(two_algorithms["fix0"])]
    assert fix0 == sorted(fix0) and fix0[1] - fix0[0] == pytest.approx(1 / 60)


def test_compare_page_reports_a_bad_group_by(pages, two_algorithms):
    response = pages.get(f"/compare?runs={two_algorithms['fix0']}&group_by=colour")
    assert response.status_code == 422
    assert "unknown spec field" in response.text
    assert pages.get("/compare?runs=999").status_code == 404


def test_summary_table_shows_only_the_fields_that_differ(pages, two_algorithms):
    html = pages.get(f"/compare?runs={','.join(map(str, two_algorithms.values()))}").text
    head = re.search(r'<table class="grid" id="summary-table">.*?</thead>', html, re.S).group(0)
    assert "<th>algorithm</th>" in head and '<th class="num">seed</th>' in head  # seed: always
    assert "<th>epochs</th>" not in head and "<th>dataset</th>" not in head


def test_run_charts_include_flexmatch_thresholds_per_class():
    series = {"train/threshold/3": {"epoch": [1, 2], "value": [0.5, 0.7]}}
    charts = {c["id"]: c for c in run_charts("flexmatch", 10, series)}
    assert charts["thresholds"]["keys"][3] == "train/threshold/3"
    assert charts["thresholds"]["figure"]["data"][3]["y"] == [0.5, 0.7]
    # Every class's line is drawn (only top-5 of few classes starts hidden in the legend).
    assert not any("visible" in t for t in charts["thresholds"]["figure"]["data"])
    assert charts["accuracy"]["figure"]["data"][3]["visible"] == "legendonly"  # val top-5
    assert "thresholds" not in {c["id"] for c in run_charts("fixmatch", 10, series)}
    # Legends name the classes where the dataset does.
    fashion = run_charts("flexmatch", 10, series, spec={"dataset": "fashion_mnist"})
    names = [t["name"] for t in {c["id"]: c for c in fashion}["thresholds"]["figure"]["data"]]
    assert names[6] == "class 6 (shirt)" and names[0] == "class 0 (T-shirt/top)"
    assert charts["thresholds"]["figure"]["data"][6]["name"] == "class 6"


def test_run_page_draws_the_pseudo_label_shares_against_the_uniform_share(pages, engine):
    run_id = submit(pages, algorithm="fixmatch")
    add_points(engine, run_id, "train/mask_ratio", [0.3, 0.5])
    for c in range(10):  # class 0 fades out, class 1 takes its place
        shares = [0.1, 0.01] if c == 0 else [0.1, 0.19] if c == 1 else [0.1, 0.1]
        add_points(engine, run_id, f"train/pseudo_label_share/{c}", shares)
    html = pages.get(f"/runs/{run_id}").text
    assert 'id="chart-shares"' in html
    charts = {c["id"]: c for c in embedded(html, "figures")}
    shares = charts["shares"]
    assert shares["keys"] == [f"train/pseudo_label_share/{c}" for c in range(10)]
    assert shares["figure"]["data"][0]["y"] == [0.1, 0.01]
    (uniform,) = shares["figure"]["layout"]["shapes"]
    assert (uniform["y0"], uniform["y1"], uniform["line"]["dash"]) == (0.1, 0.1, "dash")
    # Live updates extend these traces by key, so the chart is listed for them too.
    live = embedded(html, "live")
    assert {"id": "shares", "keys": shares["keys"], "scales": [1.0] * 10} in live["charts"]
    # The collapse note, under the pseudo-label chart.
    assert "pseudo-labels rarely name class 0: 1 % of those admitted" in html


def test_the_shares_chart_is_left_out_for_runs_that_did_not_log_them(pages, engine):
    supervised = submit(pages, algorithm="supervised")
    assert 'id="chart-shares"' not in pages.get(f"/runs/{supervised}").text
    # A run stored before the metric existed: its epochs have no shares to draw.
    old = submit(pages, algorithm="fixmatch")
    add_points(engine, old, "train/mask_ratio", [0.3, 0.5])
    assert 'id="chart-shares"' not in pages.get(f"/runs/{old}").text
    # A queued run shows it, empty, so its first epochs can be drawn live.
    assert 'id="chart-shares"' in pages.get(f"/runs/{submit(pages, algorithm='fixmatch')}").text


def test_sweep_form_counts_validates_and_launches(pages, settings):
    form = {
        "name": "lambda", "preset": "", "base": '{"algorithm": "mixmatch", "epochs": 2}',
        "grid_key_0": "hparams.fixed_mixup_lambda", "grid_values_0": "0.1, 1.5",
        "grid_key_1": "", "grid_values_1": "", "seeds": "0, 1",
    }  # fmt: skip
    bad = pages.post("/sweeps/new", data=form, follow_redirects=False)
    assert bad.status_code == 422
    # The error sits on the swept row and names the value; the typed text stays.
    assert re.search(r"less than or equal to 1.*fixed_mixup_lambda=1\.5", bad.text)
    assert 'value="0.1, 1.5"' in bad.text
    assert pages.get("/api/sweeps").json() == []
    good = pages.post(
        "/sweeps/new", data={**form, "grid_values_0": "0.1, 0.9"}, follow_redirects=False
    )
    assert good.status_code == 303
    sweep = pages.get("/api/" + good.headers["location"].lstrip("/")).json()
    assert len(sweep["runs"]) == 4 and sweep["seeds"] == [0, 1]
    lambdas = sorted(r["spec"]["hparams"]["fixed_mixup_lambda"] for r in sweep["runs"])
    assert lambdas == [0.1, 0.1, 0.9, 0.9]


def test_sweep_template_for_weak_augment_makes_one_run_per_augmentation(pages):
    html = pages.get("/sweeps/new?template=weak_augment").text
    assert 'value="weak_augment"' in html and 'value="crop, flip, noise"' in html
    form = {
        "name": "aug", "preset": "", "base": '{"algorithm": "mixmatch", "epochs": 2}',
        "grid_key_0": "weak_augment", "grid_values_0": "crop, flip, noise", "seeds": "0",
    }  # fmt: skip
    location = pages.post("/sweeps/new", data=form, follow_redirects=False).headers["location"]
    runs = pages.get("/api" + location).json()["runs"]
    assert sorted(r["spec"]["weak_augment"] for r in runs) == [["crop"], ["flip"], ["noise"]]


def test_sweep_page_charts_mean_and_sample_std_over_seeds(pages, engine):
    body = {
        "base": {"algorithm": "mixmatch", "epochs": 2},
        "grid": {"hparams.fixed_mixup_lambda": [0.1, 0.5]},
        "seeds": [0, 1],
    }
    sweep = pages.post("/api/sweeps", json=body).json()
    results = [70.0, 74.0, 80.0, None]  # the last run has not finished: left out
    for run, value in zip(sweep["runs"], results, strict=True):
        add_points(engine, run["id"], "val/top1", [value or 10.0])
        if value is not None:
            set_run(engine, run["id"], status="succeeded", summary={"test_top1_at_best_val": value})
    html = pages.get(f"/sweeps/{sweep['id']}").text
    by_lambda, lines = embedded(html, "figures")
    trace = by_lambda["figure"]["data"][0]
    # Every finished run as one line across the swept field and the metric.
    (coords,) = lines["figure"]["data"]
    assert lines["id"] == "parcoords" and coords["type"] == "parcoords"
    assert [d["label"] for d in coords["dimensions"]][0] == "hparams.fixed_mixup_lambda"
    assert coords["dimensions"][0]["values"] == [0.1, 0.1, 0.5]
    assert coords["dimensions"][1]["values"] == [70.0, 74.0, 80.0]
    assert trace["x"] == [0.1, 0.5] and trace["y"] == [72.0, 80.0]
    assert trace["error_y"]["array"] == pytest.approx([math.sqrt(8), 0.0])
    assert trace["customdata"] == [2, 1]
    assert "72.0 ± 2.8" in html
    curves = embedded(html, "curves")
    assert [c["key"] for c in curves] == ["val/top1", "test/top1"]


def test_two_swept_fields_get_a_heatmap(pages):
    body = {
        "base": {"algorithm": "fixmatch", "epochs": 2},
        "grid": {"hparams.threshold": [0.9, 0.95], "lr": [0.01, 0.03]},
    }
    sweep = pages.post("/api/sweeps", json=body).json()
    figures = embedded(pages.get(f"/sweeps/{sweep['id']}").text, "figures")
    assert [f["id"] for f in figures] == ["heatmap", "by-0", "by-1"]
    assert figures[0]["figure"]["data"][0]["type"] == "heatmap"


@pytest.mark.parametrize("template", ["weak_augment", "mixup_lambda"])
def test_seed_templates_use_the_seeds_settings(pages, template):
    """Both ablation templates reproduce the seed's experiments: its settings (the tutorial
    preset), its values, and for λ the Beta-draw baseline beside the fixed values."""
    html = pages.get(f"/sweeps/new?template={template}").text
    assert "<option selected>tutorial</option>" in html, "the tutorial preset"
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', html))
    form = {k: v for k, v in fields.items() if k in ("name", "seeds") or k.startswith("grid_")}
    base = re.search(r'<textarea[^>]*name="base"[^>]*>([^<]*)<', html).group(1)
    form.update(preset="tutorial", base=html_module.unescape(base))
    location = pages.post("/sweeps/new", data=form, follow_redirects=False).headers["location"]
    runs = pages.get("/api" + location).json()["runs"]
    for run in runs:
        spec = run["spec"]
        assert (spec["optimizer"], spec["lr"], spec["ema_decay"]) == ("adam", 0.002, 0.9)
        assert (spec["epochs"], spec["iters_per_epoch"], spec["num_labels"]) == (5, 128, 120)
        assert spec["hparams"]["unlabeled_weight"] == 75.0
    if template == "mixup_lambda":
        values = {r["spec"]["hparams"]["fixed_mixup_lambda"] for r in runs}
        assert values == {None, 0.1, 0.3, 0.5, 0.7, 0.9} and len(runs) == 18
    else:
        assert {tuple(r["spec"]["weak_augment"]) for r in runs} == {
            ("crop",),
            ("flip",),
            ("noise",),
        }


def test_all_algorithms_template_runs_every_registered_algorithm_with_its_own_defaults(pages):
    html = pages.get("/sweeps/new?template=all_algorithms").text
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', html))
    form = {k: v for k, v in fields.items() if k in ("name", "seeds") or k.startswith("grid_")}
    base = re.search(r'<textarea[^>]*name="base"[^>]*>([^<]*)<', html).group(1)
    form.update(preset="", base=html_module.unescape(base))
    location = pages.post("/sweeps/new", data=form, follow_redirects=False).headers["location"]
    runs = pages.get("/api" + location).json()["runs"]
    by_name = {r["spec"]["algorithm"]: r["spec"] for r in runs}
    assert sorted(by_name) == sorted(catalog.ALGORITHMS) and len(runs) == len(by_name)
    assert {name: spec["uratio"] for name, spec in by_name.items()} == {
        name: catalog.algorithm(name).default_uratio for name in catalog.ALGORITHMS
    }
    assert all((s["dataset"], s["num_labels"]) == ("digits", 40) for s in by_name.values())

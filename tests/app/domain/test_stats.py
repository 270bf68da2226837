"""Honest statistics on compare: per group n, mean, std, 95 % CI; the difference to a baseline
with its CI and p-value (paired by seed when possible, else Welch); the final-results table.
Expected values are worked by hand below, not taken from the code under test."""

from __future__ import annotations

import math

import pytest

from app.domain.stats import band_halfwidths, difference, summarize
from tests.app.conftest import add_points, set_run

T_975_DF2 = 4.302652729911275  # Student t, 97.5th percentile, 2 degrees of freedom (tables)


def test_summary_of_three_values_by_hand():
    s = summarize([1.0, 2.0, 3.0])
    assert s["n"] == 3 and s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    half = T_975_DF2 * 1.0 / math.sqrt(3)  # 2.4841
    assert s["ci95"] == pytest.approx([2.0 - half, 2.0 + half])
    one = summarize([5.0])
    assert one == {"n": 1, "mean": 5.0, "std": None, "ci95": None}  # no spread is measured


def test_same_seeds_pair_and_the_test_is_on_the_differences():
    # Differences by seed: 1, 2, 3 → mean 2, sd 1, t = 2 / (1/√3) = 3.4641 on 2 df.
    d = difference([2.0, 3.0, 5.0], [1.0, 1.0, 2.0], [0, 1, 2], [0, 1, 2])
    assert d["paired"] is True and d["diff_vs_baseline"] == pytest.approx(2.0)
    half = T_975_DF2 / math.sqrt(3)
    assert d["diff_ci95"] == pytest.approx([2.0 - half, 2.0 + half])
    # Two-sided p for t = 2√3 on 2 df: 1 − t²/(t² + 2)^(1/2)... = 0.07418 (closed form for 2 df:
    # p = 1 − |t| / √(t² + 2)).
    t = 2 * math.sqrt(3)
    assert d["p_value"] == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-9)


def test_different_seeds_use_welch():
    # a: mean 10/3, var 7/3 (n 3); b: mean 2, var 2 (n 4). se² = 7/9 + 1/2 = 23/18.
    d = difference([2.0, 3.0, 5.0], [1.0, 1.0, 2.0, 4.0], [0, 1, 2], [0, 1, 2, 3])
    assert d["paired"] is False
    assert d["diff_vs_baseline"] == pytest.approx(4 / 3)
    se = math.sqrt(23 / 18)
    df = (23 / 18) ** 2 / ((7 / 9) ** 2 / 2 + (1 / 2) ** 2 / 3)  # Welch–Satterthwaite: 4.232
    lo, hi = d["diff_ci95"]
    assert (lo + hi) / 2 == pytest.approx(4 / 3)
    assert df == pytest.approx(4.2316, abs=1e-3)
    # The half-width is t(0.975, 4.23) × se; t lies between the 4-df (2.776) and 5-df (2.571) values.
    assert 2.571 * se < (hi - lo) / 2 < 2.776 * se
    assert 0.25 < d["p_value"] < 0.35


def test_one_run_a_side_gives_no_interval_or_p():
    d = difference([2.0], [1.0, 1.5], [0], [0, 1])
    assert d["diff_vs_baseline"] == pytest.approx(0.75)
    assert d["diff_ci95"] is None and d["p_value"] is None


def test_the_band_is_std_or_the_ci_of_the_mean():
    assert band_halfwidths([1.0, None], [3, 1], "std") == [1.0, None]
    ci = band_halfwidths([1.0, None], [3, 1], "ci95")
    assert ci[0] == pytest.approx(T_975_DF2 / math.sqrt(3)) and ci[1] is None


def finished(client, engine, algorithm: str, seed: int, top1: float) -> int:
    run_id = client.post("/api/runs", json={"algorithm": algorithm, "seed": seed}).json()["id"]
    summary = {"test_top1_at_best_val": top1, "best_val_top1": top1 + 1, "last_test_top1": top1}
    add_points(engine, run_id, "val/top1", [top1 - 5, top1])
    set_run(engine, run_id, status="succeeded", summary=summary)
    return run_id


@pytest.fixture
def study(client, engine) -> list[int]:
    ids = [finished(client, engine, "supervised", s, v) for s, v in [(0, 1.0), (1, 1.0), (2, 2.0)]]
    ids += [finished(client, engine, "fixmatch", s, v) for s, v in [(0, 2.0), (1, 3.0), (2, 5.0)]]
    return ids


def test_compare_api_gives_each_group_its_stats_against_the_baseline(client, study):
    runs = ",".join(map(str, study))
    body = client.get("/api/compare", params={"runs": runs, "group_by": "algorithm"}).json()
    assert all(g["stats"]["diff_vs_baseline"] is None for g in body["groups"])  # none named
    names = [g["name"] for g in body["groups"]]
    baseline = next(n for n in names if "supervised" in n)
    body = client.get(
        "/api/compare", params={"runs": runs, "group_by": "algorithm", "baseline": baseline}
    ).json()
    fix = next(g for g in body["groups"] if "fixmatch" in g["name"])["stats"]
    assert fix["metric"] == "test_top1_at_best_val" and fix["n"] == 3
    assert fix["paired"] is True and fix["diff_vs_baseline"] == pytest.approx(2.0)
    t = 2 * math.sqrt(3)
    assert fix["p_value"] == pytest.approx(1 - t / math.sqrt(t * t + 2))
    bad = client.get("/api/compare", params={"runs": runs, "baseline": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "baseline"
    bad = client.get("/api/compare", params={"runs": runs, "metric": "loss"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "metric"


@pytest.mark.parametrize("fmt", ["csv", "markdown", "latex"])
def test_the_results_table_in_every_format(client, study, fmt):
    runs = ",".join(map(str, study))
    first = client.get("/api/compare", params={"runs": runs, "group_by": "algorithm"}).json()
    baseline = next(g["name"] for g in first["groups"] if "supervised" in g["name"])
    response = client.get(
        "/api/compare/table",
        params={"runs": runs, "group_by": "algorithm", "baseline": baseline, "format": fmt},
    )
    assert response.status_code == 200
    text = response.text
    if fmt == "csv":
        header, *rows = [line.split(",") for line in text.strip().splitlines()]
        row = dict(zip(header, next(r for r in rows if "fixmatch" in r[0]), strict=True))
        assert float(row["test_top1_at_best_val_mean"]) == pytest.approx(10 / 3)
        assert float(row["diff"]) == pytest.approx(2.0) and row["paired"] == "True"
    elif fmt == "markdown":
        assert "| **3.33 ± 1.53** |" in text  # fixmatch is best; std of 2, 3, 5 = 1.5275
        assert "+2.00 [" in text and "(paired)" in text
    else:
        assert r"\begin{tabular}" in text and r"\toprule" in text and r"\bottomrule" in text
        assert r"\textbf{3.33 $\pm$ 1.53}" in text


def test_the_compare_page_shows_the_results_table_against_labels_only(settings, study):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as pages:
        runs = ",".join(map(str, study))
        html = pages.get(f"/compare?runs={runs}&group_by=algorithm&band=ci95").text
    assert 'id="results-table"' in html and 'id="chart-results"' in html
    table = html[
        html.index('id="results-table"') : html.index("</table>", html.index('id="results-table"'))
    ]
    assert "baseline" in table and "+2.00" in table and "paired t (same seeds)" in table
    for fmt in ("csv", "markdown", "latex"):
        assert f'id="table-{fmt}" href="/api/compare/table?' in html
    assert '<option value="ci95" selected>' in html


def test_published_references_match_the_groups_setting(client, engine):
    from ssl_core.contract.references import REFERENCES

    # Each entry of the reference document's table, held once: FixMatch CIFAR-10-40 is 7.47 % error.
    fix = [
        r
        for r in REFERENCES
        if (r.algorithm, r.dataset, r.num_labels) == ("fixmatch", "cifar10", 40)
    ]
    assert {r.error for r in fix} == {7.47, 13.81}  # TorchSSL table and the FixMatch paper
    got = client.get(
        "/api/references", params={"dataset": "cifar10", "num_labels": 40, "algorithm": "fixmatch"}
    )
    assert sorted(r["top1"] for r in got.json()) == [86.19, 92.53]
    a = client.post(
        "/api/runs", json={"algorithm": "fixmatch", "dataset": "cifar10", "num_labels": 40}
    ).json()["id"]
    b = client.post(
        "/api/runs", json={"algorithm": "fixmatch", "dataset": "digits", "num_labels": 40}
    ).json()["id"]
    body = client.get("/api/compare", params={"runs": f"{a},{b}", "group_by": "dataset"}).json()
    refs = {g["name"]: g["references"] for g in body["groups"]}
    assert [len(v) for k, v in sorted(refs.items())] == [2, 0]  # cifar10 yes, digits none

"""Only finished runs count: compare's statistics and the exports use succeeded runs, list the
others by state, mark running runs counted under ``partial=1``; several groups against one
baseline get Holm-adjusted p-values, and a test on too few seeds says so. Expected numbers are
worked by hand in the comments."""

from __future__ import annotations

import csv
import io
import math

import pytest

from tests.app.conftest import set_run

METRIC = "test_top1_at_best_val"


def make_run(client, engine, algorithm: str, seed: int, top1: float, status: str, **row) -> int:
    run_id = client.post("/api/runs", json={"algorithm": algorithm, "seed": seed}).json()["id"]
    summary = {METRIC: top1, "best_val_top1": top1 + 1, "last_test_top1": top1, "epochs": 2}
    set_run(engine, run_id, status=status, summary=summary, **row)
    return run_id


@pytest.fixture
def mixed(client, engine) -> dict[str, int]:
    """Labels-only on seeds 0–2; FixMatch with two succeeded seeds, one still training (at a
    half-trained number above everyone) and one cancelled at epoch 2 of 20; a Π-model run
    cancelled at epoch 2 (its 10.5 used to count as n = 1, mean 10.5)."""
    ids = {f"sup{s}": make_run(client, engine, "supervised", s, v, "succeeded")
           for s, v in [(0, 1.0), (1, 1.0), (2, 2.0)]}  # fmt: skip
    ids["fix0"] = make_run(client, engine, "fixmatch", 0, 2.0, "succeeded")
    ids["fix1"] = make_run(client, engine, "fixmatch", 1, 3.0, "succeeded")
    ids["running"] = make_run(client, engine, "fixmatch", 2, 50.0, "running", epoch=10)
    ids["cancelled"] = make_run(client, engine, "fixmatch", 3, 9.0, "cancelled", epoch=2)
    ids["pi"] = make_run(client, engine, "pimodel", 0, 10.5, "cancelled", epoch=2)
    return ids


def fetch(client, ids: dict[str, int], path: str = "/api/compare", **params):
    query = {"runs": ",".join(map(str, ids.values())), "group_by": "algorithm", **params}
    first = client.get("/api/compare", params=query).json()
    baseline = next(g["name"] for g in first["groups"] if "supervised" in g["name"])
    response = client.get(path, params={**query, "baseline": baseline})
    assert response.status_code == 200, response.text
    return response


def group(body, word: str) -> dict:
    return next(g for g in body["groups"] if word in g["name"])


def test_statistics_count_succeeded_runs_and_list_the_rest_by_state(client, mixed):
    body = fetch(client, mixed).json()
    assert body["partial"] is False
    assert body["excluded"] == {
        "running": [mixed["running"]],
        "cancelled": [mixed["cancelled"], mixed["pi"]],
    }
    fix = group(body, "fixmatch")["stats"]
    # Seeds 0 and 1 only: mean (2 + 3) / 2; not the same seeds as the baseline's three: Welch.
    assert fix["n"] == 2 and fix["mean"] == pytest.approx(2.5)
    assert fix["counted"] == [mixed["fix0"], mixed["fix1"]]
    assert fix["excluded"] == {"running": [mixed["running"]], "cancelled": [mixed["cancelled"]]}
    assert fix["paired"] is False and fix["p_value"] is not None
    assert fix["caution"] == "n = 2: too few seeds for a t-test to be trusted"
    pi = group(body, "pimodel")["stats"]
    assert pi["n"] == 0 and pi["mean"] is None  # the epoch-2 number is no result
    # Curves still draw every run of the group.
    assert len(group(body, "fixmatch")["runs"]) == 4
    statuses = {r["id"]: (r["counted"], r["partial"]) for r in body["runs"]}
    assert statuses[mixed["running"]] == (False, False) and statuses[mixed["fix0"]] == (True, False)


def test_latex_caption_names_the_excluded_and_never_bolds_a_running_run(client, mixed):
    text = fetch(client, mixed, "/api/compare/table", format="latex").text
    caption = text[text.index(r"\caption{") :]
    assert "excluded: 1 running, 2 cancelled" in caption
    assert r"\textbf{2.50" in text  # FixMatch's two finished seeds are the best mean
    assert "50.00" not in text and "16.00" not in text  # the running run counts nowhere
    markdown = fetch(client, mixed, "/api/compare/table", format="markdown").text
    assert "Over succeeded runs only; excluded: 1 running, 2 cancelled." in markdown
    assert "too few seeds for a t-test to be trusted" in markdown
    csv_text = fetch(client, mixed, "/api/compare/table", format="csv").text
    assert not csv_text.startswith("#")  # one header, then one row per group: nothing else
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    fix = next(r for r in rows if "fixmatch" in r["group"])
    assert fix["excluded"] == "1 running, 1 cancelled"
    assert fix["n"] == "2" and float(fix[f"{METRIC}_mean"]) == pytest.approx(2.5)
    assert fix["excluded_runs"] == f"{mixed['running']} {mixed['cancelled']}"


def test_partial_counts_the_running_run_and_marks_it(client, mixed):
    body = fetch(client, mixed, partial=1).json()
    assert body["partial"] is True
    assert body["excluded"] == {"cancelled": [mixed["cancelled"], mixed["pi"]]}
    fix = group(body, "fixmatch")["stats"]
    assert fix["n"] == 3 and fix["mean"] == pytest.approx(55 / 3)  # (2 + 3 + 50) / 3
    assert fix["partial_runs"] == [mixed["running"]]
    assert next(r for r in body["runs"] if r["id"] == mixed["running"])["partial"] is True
    latex = fetch(client, mixed, "/api/compare/table", format="latex", partial=1).text
    assert r"fixmatch $^\dagger$" in latex and "18.33" in latex
    assert r"\textbf{18.33" not in latex  # a half-trained number is never the best
    assert r"\textbf{1.33" in latex  # the best among finished groups
    assert "partial: includes the latest value of 1 running run" in latex
    markdown = fetch(client, mixed, "/api/compare/table", format="markdown", partial=1).text
    assert "| fixmatch † |" in markdown and "**18.33" not in markdown


def p_paired_2df(diffs: list[float]) -> float:
    """Two-sided p of the paired t-test on three differences (2 df: p = 1 − |t| / √(t² + 2))."""
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    t = mean / (sd / math.sqrt(3))
    return 1 - abs(t) / math.sqrt(t * t + 2)


def test_holm_by_hand_on_three_groups_against_one_baseline(client, engine):
    # Per-seed differences to the baseline: A 1,2,3 (t = 2√3, p = 0.0742); B 1,1,2 (t = 4,
    # p = 0.0572); C 0,1,5 (t = 1.309, p = 0.3206). Holm, smallest first: B 3 × 0.0572 = 0.1716;
    # A 2 × 0.0742 = 0.1484, raised to B's 0.1716 (step-down never decreases); C 1 × 0.3206.
    base = [10.0, 11.0, 12.0]
    shifts = {"fixmatch": [1, 2, 3], "flexmatch": [1, 1, 2], "mixmatch": [0, 1, 5]}
    ids = [make_run(client, engine, "supervised", s, v, "succeeded") for s, v in enumerate(base)]
    for algorithm, diffs in shifts.items():
        ids += [
            make_run(client, engine, algorithm, s, base[s] + d, "succeeded")
            for s, d in enumerate(diffs)
        ]
    body = fetch(client, {str(i): i for i in ids}).json()
    raw = {name: p_paired_2df(d) for name, d in shifts.items()}
    assert raw["fixmatch"] == pytest.approx(0.07418, abs=1e-5)
    assert raw["flexmatch"] == pytest.approx(0.05719, abs=1e-5)
    expected = {
        "fixmatch": 3 * raw["flexmatch"],
        "flexmatch": 3 * raw["flexmatch"],
        "mixmatch": raw["mixmatch"],
    }
    for name in shifts:
        stats = group(body, name)["stats"]
        assert stats["paired"] is True and stats["caution"] is None
        assert stats["p_value"] == pytest.approx(raw[name], rel=1e-9)
        assert stats["p_holm"] == pytest.approx(expected[name], rel=1e-9)
    assert group(body, "supervised")["stats"]["p_holm"] is None
    markdown = fetch(client, {str(i): i for i in ids}, "/api/compare/table", format="markdown")
    assert "| p (Holm) |" in markdown.text and "| 0.172 |" in markdown.text


def test_holm_caps_at_one_and_skips_missing_values():
    from app.domain.stats import holm

    assert holm([0.6, None, 0.5]) == [1.0, None, 1.0]  # 2 × 0.5 = 1.0; max(1.0, 0.6) capped
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_the_sweep_page_draws_finished_runs_only():
    from app.pages.sweep_figures import parcoords

    def run(threshold: float, status: str, top1: float) -> dict:
        spec = {"algorithm": "fixmatch", "hparams": {"threshold": threshold}}
        return {"id": 1, "status": status, "spec": spec, "summary": {METRIC: top1}}

    runs = [run(0.8, "succeeded", 70.0), run(0.9, "succeeded", 72.0), run(0.95, "running", 40.0)]
    figure = parcoords(["hparams.threshold"], runs, METRIC)
    assert figure is not None
    assert figure["data"][0]["dimensions"][-1]["values"] == [70.0, 72.0]

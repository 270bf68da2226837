"""The study views in Chromium: compare's results table and per-seed chart with the baseline's
differences, table downloads, the runs table's where/tag filters and bulk tagging, a sweep's
parallel coordinates. Runs get their results written straight into the store (no worker), so
the numbers on screen are known."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import update
from sqlmodel import Session, col, create_engine

from app.store.models import MetricPoint, Run
from tests.browser.conftest import WatchedPage
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

RESULTS = {"supervised": [61.0, 63.0, 62.0], "fixmatch": [70.0, 74.0, 71.0]}


@pytest.fixture(scope="module")
def study(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[Stack, list[int], int]]:
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path_factory.mktemp("results-home"), redis_url)
    stack.start_web()
    try:
        ids = []
        for algorithm, values in RESULTS.items():
            for seed in range(len(values)):
                ids.append(
                    stack.client.submit(
                        tiny_spec(algorithm=algorithm, seed=seed, name=f"{algorithm}-{seed}")
                    )["id"]
                )
        body = {
            "name": "thresholds",
            "base": tiny_spec(),
            "grid": {"hparams.threshold": [0.8, 0.9, 0.95]},
        }
        sweep = httpx.post(f"{stack.url}/api/sweeps", json=body, timeout=30).json()
        engine = create_engine(f"sqlite:///{stack.home / 'matchlab.db'}")
        finished = dict(zip(ids, [v for vs in RESULTS.values() for v in vs], strict=True))
        finished.update({r["id"]: 80.0 + 5 * i for i, r in enumerate(sweep["runs"])})
        with Session(engine) as session:
            for run_id, value in finished.items():
                session.exec(update(Run).where(col(Run.id) == run_id).values(
                    status="succeeded", epoch=2, step=8,
                    summary={"test_top1_at_best_val": value, "best_val_top1": value + 1,
                             "last_test_top1": value, "best_epoch": 2},
                ))  # fmt: skip
                session.add_all(
                    MetricPoint(run_id=run_id, key=key, epoch=e, step=4 * e, wall_time=1000.0 + e,
                                value=value - 5 + 5 * (e - 1))
                    for key in ("val/top1", "test/top1") for e in (1, 2)
                )  # fmt: skip
            session.commit()
        engine.dispose()
        yield stack, ids, sweep["id"]
    finally:
        stack.stop()


def test_compare_shows_the_results_table_and_per_seed_dots(study, watched: WatchedPage):
    stack, ids, _ = study
    page = watched.page
    page.goto(f"{stack.url}/compare?runs={','.join(map(str, ids))}&group_by=algorithm")
    page.wait_for_function("() => document.getElementById('chart-results')?.data?.length > 0")
    table = page.inner_text("#results-table")
    assert "baseline" in table and "paired t (same seeds)" in table and "+9.67" in table
    dots = page.evaluate(
        "document.getElementById('chart-results').data.filter((t) => t.mode === 'markers' && t.showlegend !== false).map((t) => t.y.length)"
    )
    assert dots == [3, 3]
    page.select_option("#band", "ci95")
    page.wait_for_url("**band=ci95**")
    page.wait_for_function("() => document.getElementById('chart-results')?.data?.length > 0")
    latex = page.request.get(stack.url + page.get_attribute("#table-latex", "href"))
    assert latex.ok and r"\toprule" in latex.text() and r"\textbf{71.67" in latex.text()
    watched.shot("results-compare")
    assert watched.errors == [], watched.errors


def test_runs_table_filters_and_tags_ticked_runs(study, watched: WatchedPage):
    stack, ids, _ = study
    page = watched.page
    page.goto(f"{stack.url}/?where=test_top1_at_best_val%20%3E%2070")
    names = page.eval_on_selector_all(
        "#runs-body td.name a:first-child", "els => els.map((e) => e.textContent)"
    )
    assert sorted(n for n in names if "thresholds" not in n) == ["fixmatch-1", "fixmatch-2"]
    page.goto(f"{stack.url}/")
    for run_id in ids[3:5]:
        page.check(f'input[name="runs"][value="{run_id}"]')
    page.fill('#compare-form input[name="tag"]', "ablation")
    with page.expect_navigation():
        page.click('#compare-form button[value="tag"]')
    page.goto(f"{stack.url}/?tag=ablation")
    assert page.locator("#runs-body tr").count() == 2
    assert page.locator("a.tag", has_text="ablation").count() == 2
    watched.shot("results-runs-tagged")
    assert watched.errors == [], watched.errors


def test_a_sweep_shows_parallel_coordinates(study, watched: WatchedPage):
    stack, _, sweep_id = study
    page = watched.page
    page.goto(f"{stack.url}/sweeps/{sweep_id}")
    page.wait_for_function(
        "() => document.getElementById('sweep-parcoords')?.data?.[0]?.type === 'parcoords'"
    )
    assert page.locator("#sweep-parcoords .parcoords").count() >= 1
    watched.shot("results-sweep-parcoords")
    assert watched.errors == [], watched.errors

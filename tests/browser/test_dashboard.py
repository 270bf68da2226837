"""The dashboard in Chromium against a real web server, Celery worker and Redis.

Launch a digits run from the form and watch its curves grow live until it succeeds; watch the
runs table refresh itself; compare runs grouped by algorithm. No JavaScript errors anywhere,
and user text never executes.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.browser.conftest import WatchedPage
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

EPOCHS = 8
PAYLOAD = "<script>window.__owned = 1</script><img src=x onerror='window.__owned = 1'>"


def assert_clean(watched: WatchedPage) -> None:
    assert watched.errors == [], watched.errors
    assert watched.page.evaluate("window.__owned") is None, "user text executed"


def trace_lengths(watched: WatchedPage, chart: str) -> list[int]:
    """Points per trace; [0] while the chart is not drawn (no epoch has finished yet)."""
    script = f"(document.getElementById('{chart}').data || [{{x: []}}]).map((t) => t.x.length)"
    return watched.page.evaluate(script)


def test_launch_from_the_form_and_watch_the_run_live(live_stack: Stack, watched: WatchedPage):
    page = watched.page
    page.goto(f"{live_stack.url}/runs/new")
    with page.expect_navigation():  # another algorithm redraws the form with its fields
        page.select_option("#f-algorithm", "flexmatch")
    assert page.locator('[name="hparams.mapping"]').count() == 1
    page.fill("#f-name", "browser flexmatch")
    for name, value in {"iters_per_epoch": "12", "batch_size": "16", "uratio": "2"}.items():
        page.fill(f"#f-{name}", value)
    page.select_option("#f-device", "cpu")
    page.fill("#f-epochs", "0")
    page.click("#launch")
    # The server's message sits next to the field and what was typed is still there.
    error = page.locator('.field.invalid[data-name="epochs"] .error')
    assert "greater than or equal to 1" in error.inner_text()
    assert page.input_value("#f-name") == "browser flexmatch"
    assert page.input_value("#f-iters_per_epoch") == "12"
    watched.shot("run-form-error")
    # The rejected form comes back as HTTP 422, which Chromium logs; nothing else may be logged.
    assert [e for e in watched.errors if "422" not in e] == []
    watched.errors.clear()

    page.fill("#f-epochs", str(EPOCHS))
    page.click("#launch")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__sameDocument = true")

    seen, zoomed, mid_shot, summaries = set(), False, False, set()
    deadline = time.monotonic() + 240
    while page.evaluate("document.body.dataset.status") != "succeeded":
        assert time.monotonic() < deadline, live_stack.logs()
        assert page.evaluate("document.body.dataset.status") not in ("failed", "cancelled")
        count = trace_lengths(watched, "chart-accuracy")[0]
        seen.add(count)
        if 0 < count < EPOCHS:  # the summary panel follows the epochs while the run trains
            fields = ("best_val_top1", "best_epoch", "test_top1_at_best_val", "last_test_top1")
            summaries.add(tuple(page.locator(f'[data-field="{f}"]').inner_text() for f in fields))
        if count >= 1 and not zoomed:  # the user zooms in; new epochs must not undo it
            page.evaluate("Plotly.relayout('chart-loss', {'xaxis.range': [0.5, 2.5]})")
            zoomed = True
        if count >= 3 and not mid_shot:
            watched.shot("run-live")
            mid_shot = True
        time.sleep(0.2)

    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    assert len({n for n in seen if 0 < n < EPOCHS}) >= 2, seen  # points arrived one by one
    assert len(summaries) >= 2, summaries  # the summary panel changed while training
    assert trace_lengths(watched, "chart-accuracy")[0] == EPOCHS
    assert trace_lengths(watched, "chart-thresholds") == [EPOCHS] * 10  # one line per class
    drawn = page.evaluate("document.getElementById('chart-accuracy').data[0].y")
    stored = httpx.get(f"{live_stack.url}/api/runs/{run_id}/metrics?keys=val/top1").json()
    assert drawn == pytest.approx(stored["series"]["val/top1"]["value"])
    assert page.evaluate("document.getElementById('chart-loss').layout.xaxis.range") == [0.5, 2.5]
    assert page.locator(".badge").first.inner_text() == "succeeded"
    assert re.fullmatch(r"\d+\.\d", page.locator('[data-field="best_val_top1"]').inner_text())
    assert page.locator('#run-actions [data-when="done"]').is_visible()
    assert not page.locator('#run-actions [data-when="active"]').is_visible()
    # Charts must stay inside their boxes after the window changes size.
    page.set_viewport_size({"width": 1100, "height": 800})
    page.wait_for_timeout(400)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(400)
    overflow = page.evaluate(
        "[...document.querySelectorAll('.chart')].filter((c) =>"
        " c.querySelector('.main-svg').getBoundingClientRect().height > c.clientHeight + 1).length"
    )
    assert overflow == 0
    watched.shot("run-done")
    assert_clean(watched)


def test_runs_table_refreshes_then_compare_grouped_by_algorithm(
    live_stack: Stack, watched: WatchedPage, browser
):
    body = {
        "name": f"{PAYLOAD} pair",
        "base": tiny_spec(epochs=4),
        "grid": {"algorithm": ["supervised", "fixmatch"]},
        "seeds": [0, 1],
    }
    sweep = httpx.post(f"{live_stack.url}/api/sweeps", json=body).json()
    ids = [run["id"] for run in sweep["runs"]]
    page = watched.page
    page.goto(f"{live_stack.url}/?sweep={sweep['id']}")
    page.evaluate("window.__sameDocument = true")
    rows = page.locator("#runs-body tr")
    deadline = time.monotonic() + 240
    while (
        rows.evaluate_all("rows => rows.filter(r => r.dataset.status === 'succeeded').length") < 4
    ):
        assert time.monotonic() < deadline, live_stack.logs()
        time.sleep(0.5)
    assert page.evaluate("window.__sameDocument") is True  # the table refreshed itself
    watched.shot("runs-table")
    assert_clean(watched)

    for run_id in ids:
        page.check(f'input[name="runs"][value="{run_id}"]')
    page.click("#compare-button")
    page.wait_for_url(re.compile(r"/compare\?runs="))
    assert sorted(map(int, page.url.split("runs=")[1].split("&")[0].split(","))) == sorted(ids)
    with page.expect_navigation():
        page.select_option("#group_by", "algorithm")
    assert "group_by=algorithm" in page.url
    names = page.evaluate("document.getElementById('chart-0').data.map((t) => t.name)")
    # Escaped for Plotly's pseudo-HTML (app/pages/plot_text.py); the legend shows "n<3".
    assert {"supervised (n=2) ⚠ n&lt;3", "fixmatch (n=2) ⚠ n&lt;3"} <= set(names), names
    bands = page.evaluate("document.getElementById('chart-0').data.filter((t) => t.fill).length")
    assert bands == 2  # one ± std band per group
    with page.expect_navigation():  # the smoothing slider applies when released
        page.evaluate(
            "const s = document.getElementById('smooth'); s.value = '0.6';"
            "s.dispatchEvent(new Event('change', {bubbles: true}))"
        )
    assert "smooth=0.6" in page.url and "group_by=algorithm" in page.url
    csv = httpx.get(live_stack.url + page.locator("#csv-link").get_attribute("href")).text
    assert csv.splitlines()[0] == "metric,kind,name,group,run_id,epoch,value,std,count"
    assert csv.count(",mean,fixmatch (n=2),") == 3 * 4  # 3 default metrics × 4 epochs
    watched.shot("compare-light")
    assert_clean(watched)

    # The same URL reproduces the view, here in dark mode.
    dark = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme="dark")
    dark_page = WatchedPage(dark.new_page())
    dark_page.page.goto(page.url)
    assert dark_page.page.input_value("#smooth") == "0.6"
    assert dark_page.page.input_value("#group_by") == "algorithm"
    dark_page.page.wait_for_timeout(300)
    dark_page.shot("compare-dark")
    dark_page.page.goto(f"{live_stack.url}/sweeps/{sweep['id']}")
    bars = dark_page.page.evaluate("document.getElementById('sweep-by-0').data[0]")
    assert bars["x"] == ["supervised", "fixmatch"] and len(bars["error_y"]["array"]) == 2
    dark_page.shot("sweep-dark")
    assert_clean(dark_page)
    dark.close()


def test_sweep_templates_are_one_click_and_count_their_runs(live_stack: Stack, watched):
    page = watched.page
    page.goto(f"{live_stack.url}/sweeps/new")
    page.click('a[data-template="mixup_lambda"]')
    page.wait_for_url(re.compile(r"template=mixup_lambda"))
    assert page.input_value('[name="grid_key_0"]') == "hparams.fixed_mixup_lambda"
    count = page.locator("#run-count")
    assert count.inner_text().startswith("18 runs")  # the Beta draw and 5 values of λ × 3 seeds
    page.fill("#f-seeds", "0")
    assert count.inner_text().startswith("6 runs")  # counted as you type, before submitting
    page.fill('[name="grid_key_1"]', "hparams.temperature")
    page.fill('[name="grid_values_1"]', "0.5, 1")
    assert count.inner_text().startswith("12 runs")
    watched.shot("sweep-form")
    assert_clean(watched)

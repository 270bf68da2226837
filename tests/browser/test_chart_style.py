"""Pages a researcher trusts at a glance (Chromium): every line in a chart tellable apart, no
legend over an axis at 1,280 or 800 px, metrics that do not apply absent, API docs offline."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.browser.conftest import WatchedPage
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

ALGORITHMS = ["supervised", "mixmatch", "fixmatch", "flexmatch"]

# Per chart: the drawn (colour, dash) of every legend entry, and every legend/axis overlap.
INSPECT = """() => [...document.querySelectorAll('.chart')].filter((c) => c.data).map((chart) => {
  const box = (el) => el.getBoundingClientRect();
  const hit = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right
    && a.top < b.bottom && b.top < a.bottom;
  const legend = chart.querySelector('g.legend');
  const axisParts = [...chart.querySelectorAll(
    '.xtick text, .ytick text, .y2tick text, .g-xtitle, .g-ytitle, .g-y2title')];
  const overlaps = legend ? axisParts.filter((el) => hit(box(legend), box(el)))
    .map((el) => el.textContent) : [];
  const lines = chart.data.filter((t) => t.showlegend !== false && t.line)
    .map((t) => [t.name, t.line.color, t.line.dash || 'solid']);
  return {id: chart.id, lines, overlaps};
})"""


@pytest.fixture(scope="module")
def finished_runs(live_stack: Stack) -> list[int]:
    """One tiny digits run of each built-in algorithm, trained by the stack's worker."""
    body = {"name": "look", "base": tiny_spec(epochs=3), "grid": {"algorithm": ALGORITHMS}}
    sweep = httpx.post(f"{live_stack.url}/api/sweeps", json=body, timeout=30).json()
    ids = [run["id"] for run in sweep["runs"]]
    deadline = time.monotonic() + 600
    while True:
        runs = [httpx.get(f"{live_stack.url}/api/runs/{i}").json() for i in ids]
        if all(r["status"] == "succeeded" for r in runs):
            return ids
        assert not any(r["status"] in ("failed", "cancelled") for r in runs), runs
        assert time.monotonic() < deadline, live_stack.logs()
        time.sleep(1)


def _check(watched: WatchedPage, url: str, width: int) -> list[dict]:
    page = watched.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    page.wait_for_function("[...document.querySelectorAll('.chart')].every((c) => c.data)")
    page.wait_for_timeout(300)  # Plotly lays legends out after the first frame
    charts = page.evaluate(INSPECT)
    assert charts, url
    for chart in charts:
        assert chart["overlaps"] == [], f"{url} at {width} px: legend covers {chart}"
        styles = [tuple(line[1:]) for line in chart["lines"]]
        assert len(set(styles)) == len(styles), f"{url}: two lines look alike in {chart}"
    return charts


@pytest.mark.parametrize("width", [1280, 800])
def test_run_pages_lines_are_distinct_and_legends_clear_of_axes(
    live_stack: Stack, finished_runs: list[int], watched: WatchedPage, width: int
):
    for run_id, algorithm in zip(finished_runs, ALGORITHMS, strict=True):
        charts = {c["id"]: c for c in _check(watched, f"{live_stack.url}/runs/{run_id}", width)}
        names = {line[0] for c in charts.values() for line in c["lines"]}
        if algorithm == "supervised":  # no flat zero lines for what does not apply
            assert "chart-pseudo" not in charts
            assert not any("unlabeled" in n or "pseudo" in n for n in names), names
        else:
            pseudo = charts["chart-pseudo"]["lines"]
            # Mask ratio, accuracy (and FlexMatch's never-selected share): a colour each.
            assert len({line[1] for line in pseudo}) == len(pseudo) >= 2, pseudo
        if width == 1280:
            watched.shot(f"style-run-{algorithm}")
    assert watched.errors == []


@pytest.mark.parametrize("width", [1280, 800])
def test_compare_groups_have_their_own_colours_and_legends_clear_of_axes(
    live_stack: Stack, finished_runs: list[int], watched: WatchedPage, width: int
):
    ids = ",".join(map(str, finished_runs))
    url = f"{live_stack.url}/compare?runs={ids}&group_by=algorithm&keys=val/top1,train/loss"
    for chart in _check(watched, url, width):
        if chart["id"] == "chart-results":
            continue  # per-seed dots, one colour per group: checked in test_results_views
        colours = [line[1] for line in chart["lines"]]
        assert len(set(colours)) == len(colours) == 4, chart
    assert watched.page.locator("#few-runs").is_visible()  # one run per group: n < 3, said so
    if width == 1280:
        watched.shot("style-compare")
    assert watched.errors == []


def test_api_docs_render_with_the_network_cut_off(live_stack: Stack, watched: WatchedPage):
    page = watched.page
    outside: list[str] = []

    def only_local(route):  # anything not from this server would need the internet
        if route.request.url.startswith(live_stack.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{live_stack.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "matchlab" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag")
    page.goto(f"{live_stack.url}/redoc")
    page.wait_for_selector("h1")
    assert "matchlab" in page.inner_text("h1")
    assert outside == []
    watched.shot("docs-offline")


# Every cell of the runs table inside the visible box of its wrapper: nothing cut, no sideways scroll.
TABLE_FIT = """() => {
  const wrap = document.querySelector('.table-wrap');
  const box = wrap.getBoundingClientRect();
  const cut = [...document.querySelectorAll('#runs-table td, #runs-table th')]
    .filter((c) => c.offsetParent !== null)
    .map((c) => [c.textContent.trim().slice(0, 30), c.getBoundingClientRect()])
    .filter(([, r]) => r.right > box.right + 1 || r.left < box.left - 1)
    .map(([text]) => text);
  return {scroll: wrap.scrollWidth - wrap.clientWidth, cut};
}"""


@pytest.mark.parametrize("width", [1280, 800])
def test_runs_table_fits_without_cutting_actions_or_metrics(
    live_stack: Stack, watched: WatchedPage, finished_runs: list[int], width: int
):
    page = watched.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_stack.url + "/")
    fit = page.evaluate(TABLE_FIT)
    assert fit == {"scroll": 0, "cut": []}, f"at {width} px: {fit}"
    for name in ("Retry", "Delete"):  # whole buttons, not "Re" and "D"
        button = page.locator(f"#runs-table button:text-is('{name}')").first
        assert button.is_visible() and button.bounding_box()["width"] > 30
    metric = page.locator("#runs-table td.num").last
    assert metric.is_visible()
    watched.shot(f"runs-table-{width}")

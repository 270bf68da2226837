"""Plotly renders names as its pseudo-HTML: a run named ``<a href=...>`` must stay literal text in
the compare legends and ticks, never a clickable link inside a plot (Chromium)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.browser

LINK = '<a href="https://example.com">x</a>'
BOLD = "<b>bold</b> & co"


def test_a_link_in_a_run_name_is_text_in_the_compare_charts(web_stack: Stack, browser: Browser):
    client = web_stack.client
    ids = [
        client.submit({"algorithm": "fixmatch", "epochs": 2, "name": n})["id"] for n in (LINK, BOLD)
    ]
    with sqlite3.connect(web_stack.home / "matchlab.db") as db:
        for run_id, value in zip(ids, (50.0, 60.0), strict=True):
            db.execute(
                "INSERT INTO metric_points (run_id, key, epoch, step, wall_time, value) "
                "VALUES (?, 'val/top1', 1, 1, 1.0, ?), (?, 'val/top1', 2, 2, 2.0, ?)",
                (run_id, value, run_id, value + 5),
            )
            db.execute(
                "UPDATE runs SET status='succeeded', summary=? WHERE id=?",
                (json.dumps({"test_top1_at_best_val": value}), run_id),
            )
    runs = f"{ids[0]},{ids[1]}"
    page = browser.new_page()
    try:
        # Each run its own line, named by the run: the legend lists the names.
        page.goto(f"{web_stack.url}/compare?runs={runs}&group_by=none", wait_until="load")
        page.wait_for_selector("#chart-0 .legendtext", timeout=30_000)
        legend = page.locator("#chart-0 .legendtext").all_text_contents()
        assert LINK in legend and BOLD in legend, legend
        assert page.locator(".js-plotly-plot a").count() == 0  # no link inside any plot
        # Grouped by name: the names are group names, in legends and the results' ticks.
        page.goto(f"{web_stack.url}/compare?runs={runs}&group_by=name", wait_until="load")
        page.wait_for_selector("#chart-results .xtick", timeout=30_000)
        ticks = page.locator("#chart-results .xtick").all_text_contents()
        assert LINK in ticks and BOLD in ticks, ticks
        legend = page.locator("#chart-0 .legendtext").all_text_contents()
        assert any(LINK in entry for entry in legend), legend
        assert page.locator(".js-plotly-plot a").count() == 0
        # <b> was not made bold either: Plotly draws bold as a styled tspan.
        assert page.locator(".js-plotly-plot tspan[style*='bold']").count() == 0
    finally:
        page.close()

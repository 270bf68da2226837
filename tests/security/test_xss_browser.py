"""User text with HTML and JavaScript in it (run names, notes, errors, sweep names, search
words, form input) is shown as text on every page: in Chromium, nothing of it executes."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.browser

# Each piece sets window.__xss or opens a dialog if it ever runs: in HTML text, in an attribute,
# after closing a <script type="application/json"> block, and as an SVG/Plotly label.
NAME = '"\'><script>window.__xss=1;alert(1)</script><img src=x onerror="window.__xss=2">'
NOTES = "</script><script>window.__xss=3</script><svg onload=window.__xss=4></textarea>"
ERROR = "TrainingDiverged: <b onmouseover=alert(5)>nan</b><script>window.__xss=6</script>"


def open_page(browser: Browser, url: str, action=None) -> tuple[Page, list[str]]:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url, wait_until="load")  # inline scripts, onerror and onload have run by then
    if action is not None:
        action(page)
    return page, dialogs


def assert_inert(page: Page, dialogs: list[str]) -> None:
    assert dialogs == [], f"{page.url}: a dialog opened: {dialogs}"
    assert page.evaluate("window.__xss") is None, f"{page.url}: user text ran as code"


def test_user_text_never_executes_on_any_page(web_stack: Stack, browser: Browser):
    stack = web_stack
    client = stack.client
    spec = {"algorithm": "fixmatch", "epochs": 2, "name": NAME, "notes": NOTES}
    failed = client.submit(spec)["id"]
    queued = client.submit({**spec, "seed": 1})["id"]
    sweep = client.sweep({"algorithm": "mixmatch"}, {"seed": [0, 1]}, name=NAME)
    with sqlite3.connect(stack.home / "matchlab.db") as db:
        db.execute("UPDATE runs SET status='failed', error=? WHERE id=?", (ERROR, failed))
        db.execute(
            "INSERT INTO metric_points (run_id, key, epoch, step, wall_time, value) "
            "VALUES (?, 'val/top1', 1, 1, 1.0, 50.0), (?, 'val/top1', 1, 1, 1.0, 60.0)",
            (failed, queued),
        )

    def submit_form(page: Page) -> None:
        page.fill("#f-name", NAME)
        page.fill("#f-notes", NOTES)
        page.fill("#f-epochs", "0")  # refused: the form comes back with what was typed
        with page.expect_navigation():
            page.click("#launch")

    pages = {
        "runs": (f"{stack.url}/", None),
        "search": (f"{stack.url}/?q={quote(NAME)}", None),
        "failed run": (f"{stack.url}/runs/{failed}", None),
        "live run": (f"{stack.url}/runs/{queued}", None),
        "sweep": (f"{stack.url}/sweeps/{sweep['id']}", None),
        "compare": (f"{stack.url}/compare?runs={failed},{queued}", None),
        "form redrawn": (f"{stack.url}/runs/new", submit_form),
    }
    for what, (url, action) in pages.items():
        page, dialogs = open_page(browser, url, action)
        try:
            assert_inert(page, dialogs)
            text = page.locator("body").inner_text()
            if what in ("runs", "failed run", "sweep", "compare"):
                assert "<script>window.__xss=1" in text, f"{what}: the name is not shown as text"
            if what == "failed run":
                assert "<script>window.__xss=6</script>" in text  # the error, as text
            if what == "form redrawn":
                assert page.input_value("#f-name") == NAME
                assert page.input_value("#f-notes") == NOTES
        finally:
            page.close()

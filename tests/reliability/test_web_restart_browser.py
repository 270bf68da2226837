"""The run page in Chromium while the web server restarts: its live stream reconnects by itself
and the curves end with every epoch exactly once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import Stack, pause_when, resume
from tests.reliability.conftest import kill, tiny

pytestmark = pytest.mark.browser

EPOCHS = 6  # small enough for a 3× margin under the timeout at a load average of 8

# Every curve's x values on the page: the epochs it has drawn, in order.
CURVES = """() => Array.from(document.querySelectorAll('.chart'))
  .flatMap((div) => (div.data || []).map((trace) => Array.from(trace.x)))
  .filter((xs) => xs.length > 0)"""


def test_run_page_reconnects_after_a_web_server_restart(own_stack: Stack, browser: Browser):
    stack = own_stack
    # The worker is held (SIGSTOP) from two epochs until the web server is back, so more epochs
    # come after the page reconnects on any machine speed; held, it beats no heartbeat, so it
    # must not look dead meanwhile.
    stack.env["MATCHLAB_STALE_AFTER_SECONDS"] = "600"
    worker = stack.start_worker()
    run_id = stack.client.submit(tiny(epochs=EPOCHS, iters_per_epoch=40))["id"]
    page = browser.new_page()
    page.set_default_timeout(240_000)  # a loaded 2-core machine trains slowly
    page.goto(f"{stack.url}/runs/{run_id}")
    last_epoch = "Number(document.body.dataset.lastEpoch || 0)"
    pause_when(worker, lambda: page.evaluate(last_epoch) >= 2, "two epochs on the page")
    web = next(p for p in stack.processes if "web" in p.args and p.poll() is None)
    kill(web)
    seen_before = int(page.evaluate("document.body.dataset.lastEpoch"))
    stack.start_web()
    assert stack.client.get(run_id)["status"] == "running"  # more epochs come after reconnecting
    resume(worker)
    page.wait_for_selector('body[data-status="succeeded"]')
    assert seen_before < EPOCHS
    curves = page.evaluate(CURVES)
    assert curves, "no curves drawn"
    for xs in curves:
        assert xs == list(range(1, EPOCHS + 1)), xs
    assert page.locator('[data-field="status"]').first.inner_text() == "succeeded"
    page.close()

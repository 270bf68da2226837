"""Live epochs are drawn as the page draws them at load: a share shown ×100 on a % axis stays
there for every epoch that arrives over the event stream."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.browser.conftest import WatchedPage
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

EPOCHS = 6
MASK = "train/mask_ratio"


def test_live_epochs_keep_the_mask_ratio_on_the_percent_axis(
    live_stack: Stack, watched: WatchedPage
):
    page = watched.page
    # A threshold of 0 admits every pseudo-label: the mask ratio is 1, drawn as 100 %.
    spec = tiny_spec(epochs=EPOCHS, iters_per_epoch=8, hparams={"threshold": 0.0})
    run_id = live_stack.client.submit(spec)["id"]
    page.goto(f"{live_stack.url}/runs/{run_id}")
    live = json.loads(page.locator("#live").text_content())
    assert live["last_epoch"] < EPOCHS - 1, "the run finished before the page could watch it"
    page.wait_for_selector('body[data-status="succeeded"]', timeout=120_000)
    (pseudo,) = [c for c in live["charts"] if c["id"] == "pseudo"]
    index = pseudo["keys"].index(MASK)
    drawn = page.evaluate(f"Array.from(document.getElementById('chart-pseudo').data[{index}].y)")
    stored = httpx.get(f"{live_stack.url}/api/runs/{run_id}/metrics?keys={MASK}").json()
    values = stored["series"][MASK]["value"]
    assert len(drawn) == len(values) == EPOCHS
    assert drawn == pytest.approx([100 * v for v in values])
    assert min(drawn) > 50, drawn  # every epoch on the % axis, none dropped to ~0
    assert not watched.errors, watched.errors

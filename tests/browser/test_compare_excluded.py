"""Compare in Chromium on a selection with unfinished runs: the statistics table counts the
succeeded runs and says, right beside it, how many were left out and in which state; the
partial switch counts the running run and marks it. Results are written straight into the
store (no worker), so the states on screen are known."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import update
from sqlmodel import Session, col, create_engine

from app.store.models import Run
from tests.browser.conftest import WatchedPage
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

# (algorithm, seed, status, test top-1): a baseline, two finished FixMatch seeds, one still
# training and one cancelled at epoch 2.
RUNS = [
    ("supervised", 0, "succeeded", 60.0), ("supervised", 1, "succeeded", 62.0),
    ("fixmatch", 0, "succeeded", 70.0), ("fixmatch", 1, "succeeded", 72.0),
    ("fixmatch", 2, "running", 40.0), ("fixmatch", 3, "cancelled", 20.0),
]  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[str, str]]:
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path_factory.mktemp("excluded-home"), redis_url)
    stack.start_web()
    try:
        ids = [
            stack.client.submit(tiny_spec(algorithm=a, seed=s, name=f"{a}-{s}"))["id"]
            for a, s, _, _ in RUNS
        ]
        engine = create_engine(f"sqlite:///{stack.home / 'matchlab.db'}")
        with Session(engine) as session:
            for run_id, (_, _, status, value) in zip(ids, RUNS, strict=True):
                session.exec(update(Run).where(col(Run.id) == run_id).values(
                    status=status, epoch=2,
                    summary={"test_top1_at_best_val": value, "best_val_top1": value,
                             "last_test_top1": value, "best_epoch": 2},
                ))  # fmt: skip
            session.commit()
        engine.dispose()
        yield stack.url, ",".join(map(str, ids))
    finally:
        stack.stop()


def test_compare_says_beside_the_table_which_runs_were_left_out(mixed, watched: WatchedPage):
    url, ids = mixed
    page = watched.page
    page.goto(f"{url}/compare?runs={ids}&group_by=algorithm")
    note = page.locator("#results-excluded")
    assert "excluded: 1 running, 1 cancelled" in note.inner_text()
    table = page.locator("#results-table")
    fixmatch = table.locator("tr", has_text="fixmatch").first.inner_text()
    assert "\t2\t71.0\t" in fixmatch  # n = 2: the finished seeds only
    note_box, table_box = note.bounding_box(), table.bounding_box()
    assert note_box and table_box and 0 <= table_box["y"] - note_box["y"] < 80  # right beside it
    page.check("#partial")
    page.wait_for_url("**partial=1**")
    assert "excluded: 1 cancelled" in page.inner_text("#results-excluded")
    assert "†" in page.locator("#results-table tr", has_text="fixmatch").first.inner_text()
    watched.shot("compare-excluded")
    assert watched.errors == [], watched.errors

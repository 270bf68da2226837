"""How fast the pages a researcher watches appear in Chromium, cold and warm, on loopback.

A live uvicorn (the real app, its own SQLite and Redis) serves a store of 20 finished runs ×
200 epochs. For ``/compare`` of all 20 and for one run page, Chromium (Debian's, driven by
Playwright) loads the page R times

- cold: a fresh browser context each time (empty cache, new connections), and
- warm: a reload in the context that has just loaded it (Plotly from the cache),

measuring *first paint* (the browser's first-contentful-paint entry) and *charts drawn* (every
``.chart`` has its Plotly figure and SVG, timed from navigation start). A third column loads the
cold page with ``Accept-Encoding: identity`` — what every load cost before Plotly was served
compressed — side by side in the same run. Targets: cold first paint <= 1.0 s, charts drawn
<= 2.0 s.

    .venv/bin/python bench/page_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright
from sqlmodel import Session, text
from store_vs_mlflow import bulk_points, serve

from app.config import Settings
from app.stack.redis_server import free_port, start_redis
from app.store.db import get_engine

RUNS, EPOCHS = 20, 200
CHROMIUM = "/usr/bin/chromium"
TIMING = """() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {paint: paint ? paint.startTime : null, drawn: performance.now()};
}"""
DRAWN = """() => {
  const charts = [...document.querySelectorAll('.chart')];
  return charts.length > 0 && charts.every((c) => c.data && c.querySelector('svg.main-svg'));
}"""


def finish_runs(settings: Settings, ids: list[int]) -> None:
    """The bench's runs as the worker leaves them: succeeded, at their last epoch."""
    with Session(get_engine(settings)) as session:
        session.execute(
            text(
                "UPDATE runs SET status = 'succeeded', epoch = :e, step = total_steps "
                f"WHERE id IN ({','.join(map(str, ids))})"
            ),
            {"e": EPOCHS},
        )
        session.commit()


def load(browser: Browser, url: str, repeats: int, headers: dict[str, str] | None = None):
    """(cold, warm) lists of {paint, drawn} in ms; ``headers`` apply to the cold loads only."""
    cold, warm = [], []
    for _ in range(repeats):
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, extra_http_headers=headers or {}
        )
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(DRAWN, timeout=60_000)
        cold.append(page.evaluate(TIMING))
        if not headers:
            page.reload()
            page.wait_for_function(DRAWN, timeout=60_000)
            warm.append(page.evaluate(TIMING))
        context.close()
    return cold, warm


def median(samples: list[dict], field: str) -> float:
    """Median in seconds over the loads that report it (a reload may have no paint entry)."""
    values = [s[field] for s in samples if s[field] is not None]
    return statistics.median(values) / 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="matchlab-page-speed-"))
    redis_port = free_port()
    redis = start_redis(redis_port, home / "redis", persist=False)
    settings = Settings(home=home, redis_url=f"redis://127.0.0.1:{redis_port}/0")
    ids = bulk_points(settings, RUNS, EPOCHS)
    finish_runs(settings, ids)
    port = free_port()
    server = serve(settings, port)
    base = f"http://127.0.0.1:{port}"
    pages = {
        f"/compare ({RUNS} runs × {EPOCHS} epochs)": f"{base}/compare?runs={','.join(map(str, ids))}",
        f"run page ({EPOCHS} epochs)": f"{base}/runs/{ids[0]}",
    }
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            load(browser, next(iter(pages.values())), 1)  # the server's first request warms it
            print(f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeats}, seconds")
            print(f"{'page':34} {'':14} {'first paint':>12} {'charts drawn':>13}")
            for name, url in pages.items():
                cold, warm = load(browser, url, args.repeats)
                plain, _ = load(browser, url, args.repeats, {"Accept-Encoding": "identity"})
                for label, samples in (("cold", cold), ("warm", warm), ("cold, no gzip", plain)):
                    paint, drawn = median(samples, "paint"), median(samples, "drawn")
                    print(f"{name:34} {label:14} {paint:12.2f} {drawn:13.2f}")
                ok = median(cold, "paint") <= 1.0 and median(cold, "drawn") <= 2.0
                gain = median(plain, "drawn") / median(cold, "drawn")
                print(f"{'':34} gzip: charts {gain:.2f}× sooner cold; target cold first paint "
                      f"<= 1.0 s and charts <= 2.0 s: {'met' if ok else 'MISSED'}")  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

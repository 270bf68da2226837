"""Every figure a page embeds has the user's text escaped for Plotly's pseudo-HTML, and only that:
matchlab's own hover templates keep their markup."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.pages.plot_text import safe_figure
from app.pages.sweep_figures import heatmap, sweep_cells
from app.store.db import get_engine
from tests.app.conftest import add_points

LINK = '<a href="https://example.com">x</a>'
ESCAPED = '&lt;a href="https://example.com"&gt;x&lt;/a&gt;'


def test_text_attributes_are_escaped_and_templates_are_not():
    fields = ["net_weights", "seed"]
    runs = [
        {"id": i, "status": "succeeded", "spec": {"net_weights": LINK, "seed": i},
         "summary": {"test_top1_at_best_val": 50.0 + i}}
        for i in (1, 2)
    ]  # fmt: skip
    cells, order = sweep_cells(fields, runs, "test_top1_at_best_val")
    figure = safe_figure(heatmap(fields, cells, order, "test_top1_at_best_val"))
    (trace,) = figure["data"]
    assert trace["y"] == [ESCAPED]  # a category label
    assert trace["hovertemplate"].endswith("<extra></extra>")
    escaped = safe_figure({"data": [{"name": "a & b", "x": [1, "<i>"]}],
                           "layout": {"title": {"text": "<b>t</b>", "x": 0.01}}})  # fmt: skip
    assert escaped["data"][0] == {"name": "a &amp; b", "x": [1, "&lt;i&gt;"]}
    assert escaped["layout"]["title"] == {"text": "&lt;b&gt;t&lt;/b&gt;", "x": 0.01}


def test_the_compare_page_embeds_escaped_names(settings: Settings):
    with TestClient(create_app(settings)) as lab:
        run_id = lab.post("/api/runs", json={"algorithm": "fixmatch", "name": LINK}).json()["id"]
        add_points(get_engine(settings), run_id, "val/top1", [50.0, 60.0])
        page = lab.get(f"/compare?runs={run_id}&group_by=none").text
    embedded = re.search(r'<script type="application/json" id="figures">(.*?)</script>', page, re.S)
    assert embedded, page[:500]
    names = [t.get("name") for f in json.loads(embedded.group(1)) for t in f["figure"]["data"]]
    assert ESCAPED in names and LINK not in names

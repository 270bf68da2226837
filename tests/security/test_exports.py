"""Exports stay text: CSV cells a spreadsheet would run as formulas are neutralised (numbers stay
numbers), and the Markdown table renders names as written, with no HTML or link in them."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from sqlmodel import Session

from app.config import Settings
from app.domain.exports import csv_cell, markdown_text
from app.main import create_app
from app.store.db import get_engine
from app.store.models import MetricPoint

FORMULAS = ['=HYPERLINK("https://evil.example","x")', "@SUM(1+1)", "+1+cmd|' /C calc'!A0",
            "-2+3", "\t=1", "\r=1"]  # fmt: skip
MARKDOWN = [
    '<a href="https://evil.example">x</a>',
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` | pipe",
    "two\nlines | x |",
]


@pytest.fixture
def lab(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _runs(lab: TestClient, settings: Settings, names: list[str]) -> list[int]:
    ids = [
        lab.post("/api/runs", json={"algorithm": "fixmatch", "name": n}).json()["id"] for n in names
    ]
    with Session(get_engine(settings)) as session:
        for run_id in ids:
            for epoch, value in enumerate([-0.5, 60.0], start=1):
                session.add(MetricPoint(run_id=run_id, key="val/top1", epoch=epoch, step=epoch,
                                        wall_time=float(epoch), value=value))  # fmt: skip
            # A plugin's own key: a header cell of metrics.csv.
            session.add(MetricPoint(run_id=run_id, key="=HYPERLINK(1)", epoch=1, step=1,
                                    wall_time=1.0, value=-1.25))  # fmt: skip
        session.commit()
    return ids


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_no_csv_cell_starts_a_formula(lab: TestClient, settings: Settings):
    ids = _runs(lab, settings, FORMULAS)
    query = f"runs={','.join(map(str, ids))}&group_by=none"
    exports = {
        "metrics.csv": lab.get(f"/api/runs/{ids[0]}/metrics.csv"),
        "compare/table": lab.get(f"/api/compare/table?{query}&format=csv"),
        "compare.csv": lab.get(f"/compare.csv?{query}"),
    }
    for what, response in exports.items():
        assert response.status_code == 200, (what, response.text[:300])
        cells = [c for row in _cells(response.text) for c in row]
        dangerous = [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
        dangerous += [c for c in cells if c.startswith("-") and not _number(c)]
        assert not dangerous, (what, dangerous)
    names = {row[2] for row in _cells(exports["compare.csv"].text)[1:]}
    assert names == {"'" + n for n in FORMULAS}  # shown as typed, behind the quote
    header, *rows = _cells(exports["metrics.csv"].text)
    assert "'=HYPERLINK(1)" in header
    # Genuine negative numbers are still numbers.
    assert rows[0][header.index("val/top1")] == "-0.5"
    assert rows[0][header.index("'=HYPERLINK(1)")] == "-1.25"
    assert "-0.5" in [r[6] for r in _cells(exports["compare.csv"].text)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_cell_follows_owasp():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_cell(start + "x") == "'" + start + "x"
    assert csv_cell("plain") == "plain" and csv_cell(-0.5) == -0.5 and csv_cell(-3) == -3


def test_the_markdown_table_renders_names_as_text(lab: TestClient, settings: Settings):
    ids = _runs(lab, settings, MARKDOWN)
    # The baseline's name shows in the header too.
    query = urlencode({"runs": ",".join(map(str, ids)), "group_by": "none",
                       "format": "markdown", "baseline": MARKDOWN[0]})  # fmt: skip
    response = lab.get(f"/api/compare/table?{query}")
    assert response.status_code == 200, response.text[:300]
    text = response.text
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for tag in ("<a", "<img", "<b>", "<strong", "<em", "<code", "<script"):
        assert tag not in rendered, (tag, rendered)
    assert rendered.count("<tr>") == 1 + len(MARKDOWN)  # no name made a row of its own
    for name in MARKDOWN:
        # Shown as written (the one line break as a space).
        assert " ".join(name.split("\n")) in html.unescape(rendered), (name, rendered)


def test_markdown_text_round_trips_through_a_renderer():
    md = MarkdownIt("commonmark", {"html": True})
    for name in [*MARKDOWN, "a & b", "1. list", "# heading", "![i](x.png)", "x\\y"]:
        rendered = md.renderInline(markdown_text(name))
        assert html.unescape(rendered) == " ".join(name.split("\n")), (name, rendered)
        assert "<" not in rendered

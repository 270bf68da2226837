"""User text (run names, group names, metric keys from plugins) written into files other programs
open: CSV for spreadsheets, Markdown for renderers. Every CSV export and the Markdown table go
through these, so a name stays text wherever it lands.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...),
# @SUM(...), +cmd|...); tab and carriage return hide such a start (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Markdown gives these a meaning (emphasis, links, code, tables, headings, HTML, entities):
# CommonMark lets a backslash make any ASCII punctuation literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:\"'])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")


def csv_cell(value: Any) -> Any:
    """A cell as written: numbers stay numbers (a negative value is still -0.5); text that a
    spreadsheet would run as a formula gets a leading ``'``, which shows it as typed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: Iterable[Iterable[Any]]) -> str:
    """The one CSV writer: ``None`` as an empty cell, every cell through ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) for v in row])
    return out.getvalue()


def markdown_text(text: str) -> str:
    """``text`` as literal text in a Markdown table cell: no HTML (``<`` ``>`` ``&`` as entities),
    no link, emphasis or code (punctuation backslash-escaped), no new row (line breaks → space)."""
    one_line = _LINE_BREAKS.sub(" ", text)
    escaped = html.escape(one_line, quote=False)
    # The entities' own "&" and ";" stay as they are: they must reach the renderer unescaped.
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", escaped)

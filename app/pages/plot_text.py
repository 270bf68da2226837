"""User text in Plotly figures stays text.

Plotly draws trace names, legend entries, titles, tick labels, annotations and hover text as its
own pseudo-HTML: ``<a href>`` becomes a link, ``<b>`` bold, ``<br>`` a line break. Names, notes,
group names and spec values are the user's, so every figure a page embeds passes through
``safe_figures`` (the ``chart_data`` template macro applies it), which writes ``&``, ``<`` and
``>`` in those attributes as entities: Plotly shows them as the characters, never as markup.
Templates such as ``hovertemplate`` are matchlab's own (``<extra></extra>``) and stay as they are.
"""

from __future__ import annotations

from typing import Any

# The attributes Plotly renders as pseudo-HTML that can hold user text, wherever they sit
# (trace, layout, axis, annotation, colour bar, parcoords dimension); x and y for category
# labels, customdata for what a hover template shows.
TEXT_KEYS = frozenset(
    {"name", "text", "hovertext", "title", "ticktext", "label", "x", "y", "customdata"}
)


def plot_text(text: str) -> str:
    """``text`` as Plotly shows it literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return plot_text(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):  # a title object: {"text": ..., "font": ...}
        return safe_figure(value)
    return value


def safe_figure(node: Any) -> Any:
    """A copy of a figure (or any part of one) with the text attributes escaped."""
    if isinstance(node, dict):
        return {k: _escaped(v) if k in TEXT_KEYS else safe_figure(v) for k, v in node.items()}
    if isinstance(node, list):
        return [safe_figure(v) for v in node]
    return node


def safe_figures(payload: Any) -> Any:
    """A page's chart data: each item's ``figure`` escaped, everything else as it was."""
    if isinstance(payload, list):
        return [
            {**item, "figure": safe_figure(item["figure"])}
            if isinstance(item, dict) and "figure" in item
            else item
            for item in payload
        ]
    return payload

"""A sweep's result tables as charts: a final metric against each swept value.

Runs that share their grid values (and differ only in seed) form one cell; each cell shows the
mean over its finished runs with the sample standard deviation as error bars, like the seed's
tables with the seeds averaged. Two swept fields also get a heatmap.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.pages.figures import ALGORITHM_COLORS, PALETTE, algorithm_color, layout
from app.pages.render import value_label
from ssl_core.contract import summary
from ssl_core.contract.spec import flatten_spec

SUMMARY_METRICS = {key: summary.heading(key) for key in summary.STATISTICS}


@dataclass
class Cell:
    """The finished runs of one grid point."""

    labels: tuple[str, ...]  # one label per swept field
    values: list[float]
    run_ids: list[int]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


def sweep_cells(
    fields: Sequence[str], runs: Sequence[dict[str, Any]], metric: str
) -> tuple[dict[tuple[str, ...], Cell], list[list[str]]]:
    """Cells by their labels, and each field's labels in the order the runs were made."""
    cells: dict[tuple[str, ...], Cell] = {}
    order: list[list[str]] = [[] for _ in fields]
    for run in sorted(runs, key=lambda r: r["id"]):
        flat = flatten_spec(run["spec"])
        labels = tuple(value_label(flat.get(f)) for f in fields)
        for axis, label in zip(order, labels, strict=True):
            if label not in axis:
                axis.append(label)
        cell = cells.setdefault(labels, Cell(labels, [], []))
        value = (run.get("summary") or {}).get(metric)
        if run["status"] == "succeeded" and isinstance(value, (int, float)):
            cell.values.append(float(value))
            cell.run_ids.append(run["id"])
    return cells, order


def _numeric(labels: Sequence[str]) -> bool:
    try:
        [float(label) for label in labels]
    except ValueError:
        return False
    return True


def field_figure(
    index: int,
    fields: Sequence[str],
    cells: dict[tuple[str, ...], Cell],
    order: list[list[str]],
    metric: str,
    algorithm: str | None,
) -> dict[str, Any]:
    """The metric against field ``index``; one trace per combination of the other fields."""
    field = fields[index]
    others = [i for i in range(len(fields)) if i != index]
    numeric = _numeric(order[index])
    data = []
    for n, rest in enumerate(itertools.product(*(order[i] for i in others))):
        xs, ys, errors, counts = [], [], [], []
        for label in order[index]:
            key = list(rest)
            key.insert(index, label)
            cell = cells.get(tuple(key))
            if cell is None or cell.mean is None:
                continue
            xs.append(float(label) if numeric else label)
            ys.append(cell.mean)
            errors.append(cell.std)
            counts.append(len(cell.values))
        name = ", ".join(f"{fields[i]}={v}" for i, v in zip(others, rest, strict=True)) or field
        if field == "algorithm":
            color: Any = [ALGORITHM_COLORS.get(x, PALETTE[0]) for x in xs]
        else:
            color = algorithm_color(algorithm) if not others else PALETTE[n % len(PALETTE)]
        trace = {
            "type": "scatter" if numeric else "bar",
            "name": name,
            "x": xs,
            "y": ys,
            "error_y": {"type": "data", "array": errors, "visible": True},
            "customdata": counts,
            "hovertemplate": "%{x}: %{y:.2f} ± %{error_y.array:.2f} (n=%{customdata})",
            "marker": {"color": color},
        }
        if numeric:
            trace.update(mode="lines+markers", line={"color": color, "width": 2})
        data.append(trace)
    title = f"{SUMMARY_METRICS[metric]} by {field}"
    fig_layout = layout(title, field, SUMMARY_METRICS[metric], hovermode="closest")
    fig_layout["showlegend"] = bool(others)
    if not numeric:
        fig_layout["xaxis"]["type"] = "category"
    return {"data": data, "layout": fig_layout}


def heatmap(
    fields: Sequence[str], cells: dict[tuple[str, ...], Cell], order: list[list[str]], metric: str
) -> dict[str, Any]:
    """Two swept fields: rows the first, columns the second, colour the mean over seeds."""
    rows, columns = order
    z, text = [], []
    for row in rows:
        z_row, text_row = [], []
        for column in columns:
            cell = cells.get((row, column))
            mean = cell.mean if cell else None
            z_row.append(mean)
            text_row.append(
                f"{mean:.1f} ± {cell.std:.1f} (n={len(cell.values)})" if mean is not None else ""
            )
        z.append(z_row)
        text.append(text_row)
    trace = {
        "type": "heatmap",
        "x": columns,
        "y": rows,
        "z": z,
        "text": text,
        "texttemplate": "%{text}",
        "hovertemplate": f"{fields[0]}=%{{y}}, {fields[1]}=%{{x}}: %{{text}}<extra></extra>",
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "%"}},
    }
    fig_layout = layout(f"{SUMMARY_METRICS[metric]}", fields[1], fields[0], hovermode="closest")
    fig_layout["xaxis"]["type"] = fig_layout["yaxis"]["type"] = "category"
    return {"data": [trace], "layout": fig_layout}


def sweep_figures(
    grid: dict[str, list[Any]], runs: Sequence[dict[str, Any]], metric: str
) -> tuple[list[dict[str, Any]], list[Cell], list[str]]:
    """The sweep's figures, its cells (for the table under them) and the swept fields."""
    fields = [f for f in grid if f != "seed"] or ["algorithm"]
    cells, order = sweep_cells(fields, runs, metric)
    algorithms = {r["spec"].get("algorithm") for r in runs}
    algorithm = next(iter(algorithms)) if len(algorithms) == 1 else None
    figures = []
    if len(fields) == 2:
        figures.append({"id": "heatmap", "figure": heatmap(fields, cells, order, metric)})
    for i in range(len(fields)):
        figure = field_figure(i, fields, cells, order, metric, algorithm)
        figures.append({"id": f"by-{i}", "figure": figure})
    lines = parcoords(fields, runs, metric)
    if lines is not None:
        figures.append({"id": "parcoords", "figure": lines})
    return figures, list(cells.values()), fields


def parcoords(
    fields: Sequence[str], runs: Sequence[dict[str, Any]], metric: str
) -> dict[str, Any] | None:
    """One line per finished run across every swept field and the metric (Plotly ``parcoords``;
    drag on an axis to keep a range). Text values get one tick each. None under two runs."""
    done = [
        (flatten_spec(r["spec"]), v)
        for r in runs
        if r["status"] == "succeeded"
        and isinstance(v := (r.get("summary") or {}).get(metric), (int, float))
    ]
    if len(done) < 2:
        return None
    dimensions = []
    for field in fields:
        raw = [flat.get(field) for flat, _ in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            dimensions.append({"label": field, "values": raw})
        else:
            labels = sorted({value_label(v) for v in raw})
            index = {label: i for i, label in enumerate(labels)}
            dimensions.append({
                "label": field, "values": [index[value_label(v)] for v in raw],
                "tickvals": list(range(len(labels))), "ticktext": labels,
            })  # fmt: skip
    scores = [v for _, v in done]
    dimensions.append({"label": SUMMARY_METRICS[metric], "values": scores})
    trace = {
        "type": "parcoords",
        "line": {"color": scores, "colorscale": "Viridis", "showscale": True,
                 "colorbar": {"title": {"text": "%"}}},
        "dimensions": dimensions,
    }  # fmt: skip
    fig_layout = layout(f"{SUMMARY_METRICS[metric]}: every run across the grid", "", "")
    fig_layout["margin"].update(l=70, r=70, t=70)
    return {"data": [trace], "layout": fig_layout}

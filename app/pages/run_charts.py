"""The run page's charts, built from the metric rows (ssl_core.contract.metrics) and the chart
table (ssl_core.contract.charts): which metric goes in which chart, in what order, colour, dash
and display scale are all read from there.

Every chart lists, per trace, its metric key and display scale, so live epochs (static/run.js)
are drawn as the page draws them (a 0–1 share on a % axis ×100 on arrival too).
"""

from __future__ import annotations

from typing import Any

from app.domain.diagnosis import class_name, class_names, run_notes
from app.pages.figures import layout, line, whole_ticks
from ssl_core.contract import catalog, charts, metrics

Chart = dict[str, Any]


def _logged(algorithm: str, row: metrics.MetricKey, compiled: bool) -> bool:
    return algorithm in catalog.ALGORITHMS and metrics.logs(row, algorithm, compiled)


def _has_epochs_without(row: metrics.MetricKey, series: dict[str, dict[str, list]]) -> bool:
    """The run's epochs were logged without this per-class metric (stored before it existed):
    an empty chart would only puzzle. A run with no epoch yet shows it, to be drawn live."""
    logged = [key for key, s in series.items() if s["epoch"]]
    return bool(logged) and not any(metrics.per_class_prefix(k) == row.prefix for k in logged)


def _trace(
    row: metrics.MetricKey, key: str, name: str, color: str, num_classes: int, series: dict
) -> dict[str, Any]:
    s = series.get(key, {"epoch": [], "value": []})
    values = [v * row.scale if v is not None else None for v in s["value"]]
    extra: dict[str, Any] = {}
    if row.legend_only_up_to and num_classes <= row.legend_only_up_to:
        extra["visible"] = "legendonly"
    return line(name, s["epoch"], values, color, row.line_dash, **extra)


def _per_class(
    row: metrics.MetricKey, num_classes: int, series: dict, spec: dict
) -> tuple[list[str], list[dict[str, Any]]]:
    """One line per class, in class order, named by the dataset's class names where it has
    them."""
    names = class_names([spec])
    keys = metrics.class_keys(row.prefix, num_classes)
    data = [
        _trace(
            row,
            key,
            f"class {class_name(c, names)}",
            class_color(c, num_classes),
            num_classes,
            series,
        )
        for c, key in enumerate(keys)
    ]
    return keys, data


def _figure(chart: charts.Chart, data: list[dict], epochs: int, num_classes: int) -> dict:
    fig_layout = whole_ticks(layout(chart.title, "epoch", chart.y_title), epochs)
    if chart.y_range:
        fig_layout["yaxis"]["range"] = list(chart.y_range)
    if chart.from_zero:
        fig_layout["yaxis"]["rangemode"] = "tozero"
    if chart.uniform_share:
        # A class far below the uniform share 1/K is one the model has stopped predicting.
        fig_layout["shapes"] = [uniform_line(1 / num_classes)]
        fig_layout["annotations"] = [uniform_label(num_classes)]
    return {"data": data, "layout": fig_layout}


def run_charts(
    algorithm: str,
    num_classes: int,
    series: dict[str, dict[str, list]],
    epochs: int = 0,
    spec: dict[str, Any] | None = None,
) -> list[Chart]:
    """``[{"id", "keys", "scales", "figure"}]`` for one run (of ``epochs`` epochs): trace ``i``
    draws metric ``keys[i]`` × ``scales[i]``. Metrics that do not apply to the algorithm are
    absent; a chart with ``notes`` also carries what its curves say (app.domain.diagnosis)."""
    spec = spec or {}
    compiled = bool(spec.get("compile"))
    hparams = spec.get("hparams") or {}
    out: list[Chart] = []
    for chart in charts.CHARTS:
        if chart.only_with_hparam and not hparams.get(chart.only_with_hparam):
            continue
        keys: list[str] = []
        scales: list[float] = []
        data: list[dict[str, Any]] = []
        for row in metrics.rows_of_chart(chart.id):
            if not _logged(algorithm, row, compiled):
                continue
            if row.per_class:
                if _has_epochs_without(row, series):
                    continue
                row_keys, row_data = _per_class(row, num_classes, series, spec)
            else:
                color = charts.COLORS[row.color]
                row_keys = [row.name]
                row_data = [_trace(row, row.name, row.trace, color, num_classes, series)]
            keys += row_keys
            scales += [row.scale] * len(row_keys)
            data += row_data
        if not data:
            continue
        figure = _figure(chart, data, epochs, num_classes)
        out.append({"id": chart.id, "keys": keys, "scales": scales, "figure": figure})
        if chart.notes:
            out[-1]["notes"] = run_notes(algorithm, series, spec)
    return out


def uniform_line(share: float) -> dict[str, Any]:
    """A dashed horizontal line across the plot at ``share`` (a layout shape, not a trace, so
    live updates that extend traces by index leave it alone)."""
    return {
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": share, "y1": share,
        "line": {"dash": "dash", "width": 1.5, "color": "#888888"},
    }  # fmt: skip


def uniform_label(num_classes: int) -> dict[str, Any]:
    """The words on ``uniform_line``, at its right end."""
    return {
        "text": f"uniform 1/{num_classes}", "xref": "paper", "x": 1, "yref": "y",
        "y": 1 / num_classes, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
        "font": {"size": 11, "color": "#888888"},
    }  # fmt: skip


def class_color(index: int, count: int) -> str:
    """Evenly spaced hues, so 10 or 100 classes stay distinguishable in order."""
    hue = 360 * index / max(count, 1)
    return f"hsl({hue:.0f},62%,52%)"

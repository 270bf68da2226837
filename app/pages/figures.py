"""Plotly figure JSON built from metric rows, for the run, compare and sweep pages.

Figures are plain dicts in Plotly's JSON schema rather than ``plotly.graph_objects``: validating
objects for 50 runs × several metrics would cost more than the page. Colours are fixed per
algorithm so a run looks the same on every page; the browser applies the light or dark theme
(``static/matchlab.js``), so nothing here depends on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssl_core import catalog, metrics

# From the catalog, as the --c-<algorithm> CSS variables (app.pages.render.algorithms_css).
ALGORITHM_COLORS = catalog.colors()
# For groups that are not one algorithm each (a sweep over λ, runs grouped by seed, ...).
PALETTE = (
    "#3a7be0", "#e57a35", "#1f9e73", "#8e5bd0", "#d6456e",
    "#1597a8", "#b08900", "#6b7f8e", "#7fb13d", "#c0612b",
)  # fmt: skip
PURPLE, PINK, TEAL = "#8e5bd0", "#d6456e", "#1597a8"

X_LABELS = {"epoch": "epoch", "step": "step", "wall_time": "minutes since start"}


def metric_label(key: str) -> str:
    return metrics.label(key)


def algorithm_color(algorithm: str | None, index: int = 0) -> str:
    return ALGORITHM_COLORS.get(algorithm or "", PALETTE[index % len(PALETTE)])


def clean(values: Iterable[Any]) -> list[float | None]:
    """Floats with NaN/inf as None: JSON has no NaN and Plotly draws None as a gap."""
    out: list[float | None] = []
    for v in values:
        out.append(float(v) if v is not None and math.isfinite(v) else None)
    return out


def ema(values: Sequence[float | None], weight: float) -> list[float | None]:
    """TensorBoard's smoothing: debiased exponential moving average; gaps stay gaps."""
    if weight <= 0:
        return list(values)
    out: list[float | None] = []
    last, debias = 0.0, 1.0
    for v in values:
        if v is None:
            out.append(None)
            continue
        last = weight * last + (1 - weight) * v
        debias *= weight
        out.append(last / (1 - debias))
    return out


def rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "margin": {"l": 58, "r": 16, "t": 38, "b": 84},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "zeroline": False},
        # Below the axis title, left-aligned: wraps instead of covering the curves.
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        "hovermode": "x unified",
        "uirevision": "keep",  # Plotly.react keeps the user's zoom
        **extra,
    }


def whole_ticks(fig_layout: dict[str, Any], last_epoch: int) -> dict[str, Any]:
    """Epochs are whole numbers: on a short axis, tick every epoch instead of at 1.5, 2.5."""
    if last_epoch <= 15:
        fig_layout["xaxis"].update(tick0=0, dtick=1)
    return fig_layout


def line(name: str, x: list, y: list, color: str, dash: str = "solid", **extra: Any) -> dict:
    trace = {
        "type": "scatter",
        "mode": "lines+markers" if len(x) <= 60 else "lines",
        "name": name,
        "x": x,
        "y": clean(y),
        "line": {"color": color, "dash": dash, "width": 2},
        "marker": {"size": 4},
    }
    trace.update(extra)
    return trace


# ---- the run page: one chart per topic, every trace keyed by its metric for live updates ----
# (chart id, title, y title, [(metric key, legend name, colour or None for the algorithm's, dash)])
RUN_CHARTS: list[tuple[str, str, str, list[tuple[str, str, str | None, str]]]] = [
    ("accuracy", "Accuracy", "%", [
        ("val/top1", "val top-1", None, "solid"), ("test/top1", "test top-1", PINK, "solid"),
        ("labeled/top1", "labeled top-1", PURPLE, "solid"), ("val/top5", "val top-5", None, "dot"),
        ("test/top5", "test top-5", PINK, "dot"),
    ]),
    ("loss", "Losses", "loss", [
        ("train/loss", "total", None, "solid"), ("train/loss_x", "labeled", PURPLE, "solid"),
        ("train/loss_u", "unlabeled", TEAL, "solid"), ("val/loss", "val", PINK, "dot"),
    ]),
    ("pseudo", "Pseudo-labels", "share", [
        ("train/mask_ratio", "mask ratio", None, "solid"),
        ("train/pseudo_label_acc", "pseudo-label accuracy", TEAL, "solid"),
    ]),
    ("unsup", "Unsupervised loss weight λu", "λu", [("train/unsup_weight", "λu", None, "solid")]),
    ("lr", "Learning rate", "lr", [("train/lr", "lr", None, "solid")]),
    ("speed", "Throughput", "images / s", [("train/imgs_per_s", "images/s", None, "solid")]),
]  # fmt: skip


def run_charts(
    algorithm: str, num_classes: int, series: dict[str, dict[str, list]], epochs: int = 0
) -> list[dict[str, Any]]:
    """``[{"id", "keys", "figure"}]`` for one run (of ``epochs`` epochs); ``keys[i]`` is the
    metric of trace ``i``."""
    color = algorithm_color(algorithm)
    logged = (
        metrics.expected_keys(algorithm, num_classes) if algorithm in catalog.ALGORITHMS else set()
    )
    charts = []
    for chart_id, title, y_title, traces in RUN_CHARTS:
        traces = [t for t in traces if t[0] in logged]  # metrics that do not apply stay absent
        if not traces:
            continue
        data, keys = [], []
        for key, name, trace_color, dash in traces:
            s = series.get(key, {"epoch": [], "value": []})
            data.append(line(name, s["epoch"], s["value"], trace_color or color, dash))
            keys.append(key)
        figure = {"data": data, "layout": whole_ticks(layout(title, "epoch", y_title), epochs)}
        if len(data) == 1:  # no legend to make room for
            figure["layout"]["margin"]["b"] = 48
        charts.append({"id": chart_id, "keys": keys, "figure": figure})
    if metrics.CLASS_THRESHOLD in _diagnostics(algorithm):
        keys = [f"train/threshold/{c}" for c in range(num_classes)]
        data = []
        for c, key in enumerate(keys):
            s = series.get(key, {"epoch": [], "value": []})
            data.append(line(f"class {c}", s["epoch"], s["value"], class_color(c, num_classes)))
        title = "FlexMatch per-class thresholds"
        figure = {
            "data": data,
            "layout": whole_ticks(layout(title, "epoch", "threshold τ_c"), epochs),
        }
        charts.insert(1, {"id": "thresholds", "keys": keys, "figure": figure})
    return charts


def _diagnostics(algorithm: str) -> tuple[str, ...]:
    entry = catalog.CATALOG.algorithms.get(algorithm)
    return entry.diagnostics if entry else ()


def class_color(index: int, count: int) -> str:
    """Evenly spaced hues, so 10 or 100 classes stay distinguishable in order."""
    hue = 360 * index / max(count, 1)
    return f"hsl({hue:.0f},62%,52%)"


# ---- the compare page: members overlaid, group means with a ± std band ----
@dataclass
class Plotted:
    """One line as drawn (after smoothing): the compare charts and their CSV both come from it."""

    metric: str
    name: str
    kind: str  # "run" (one run's series) or "mean" (a group's mean over its members)
    color: str
    x: list[float]
    y: list[float | None]
    std: list[float | None] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    run_id: int | None = None
    group: str = ""


def group_colors(compare: dict[str, Any]) -> list[str]:
    """Per group: the algorithm's colour when the group is the only one made of that algorithm."""
    algorithm_of_run = {run["id"]: run["spec"].get("algorithm") for run in compare["runs"]}
    algorithms = [{algorithm_of_run.get(r) for r in g["runs"]} for g in compare["groups"]]
    single = [next(iter(a)) if len(a) == 1 else None for a in algorithms]
    return [
        ALGORITHM_COLORS[a] if a in ALGORITHM_COLORS and single.count(a) == 1 else PALETTE[i % 10]
        for i, a in enumerate(single)
    ]


def compare_lines(compare: dict[str, Any], x: str, smoothing: float) -> list[Plotted]:
    """What the compare page draws: each run, plus each group's mean where groups have members."""
    colors = group_colors(compare)
    grouped = compare.get("group_by") != "none"
    run_by_id = {run["id"]: run for run in compare["runs"]}
    out: list[Plotted] = []
    for key in compare["keys"]:
        for group, color in zip(compare["groups"], colors, strict=True):
            members = [run_by_id[i] for i in group["runs"] if i in run_by_id]
            if not grouped or len(members) > 1:
                for run in members:
                    s = run["series"].get(key)
                    if s and s["value"]:
                        y = ema(clean(s["value"]), smoothing)
                        name = run["name"]
                        out.append(
                            Plotted(
                                key, name, "run", color, s[x], y, [], [], run["id"], group["name"]
                            )
                        )
            agg = group["series"].get(key)
            if grouped and agg and agg["x"]:
                n = max(agg["count"])
                out.append(
                    Plotted(
                        key, f"{group['name']} (n={n})", "mean", color, agg["x"],
                        ema(clean(agg["mean"]), smoothing), ema(clean(agg["std"]), smoothing),
                        agg["count"], None, group["name"],
                    )
                )  # fmt: skip
    return out


def compare_figures(lines: list[Plotted], keys: Sequence[str], x: str) -> list[dict[str, Any]]:
    """One figure per metric: faint member lines, then each group's band and mean on top."""
    figures = []
    for key in keys:
        mine = [p for p in lines if p.metric == key]
        has_means = any(p.kind == "mean" for p in mine)
        data: list[dict[str, Any]] = []
        for p in mine:
            if p.kind == "run":
                faint = (
                    {"opacity": 0.35, "line": {"color": p.color, "width": 1}} if has_means else {}
                )
                data.append(
                    line(
                        p.name,
                        p.x,
                        p.y,
                        p.color,
                        legendgroup=p.group,
                        showlegend=not has_means,
                        **faint,
                    )
                )
        for p in mine:
            if p.kind != "mean":
                continue
            upper = [
                m + s if m is not None and s is not None else None
                for m, s in zip(p.y, p.std, strict=True)
            ]
            lower = [
                m - s if m is not None and s is not None else None
                for m, s in zip(p.y, p.std, strict=True)
            ]
            band = {
                "mode": "lines",
                "line": {"width": 0, "color": p.color},
                "legendgroup": p.group,
                "showlegend": False,
                "hoverinfo": "skip",
            }
            data.append(
                {"type": "scatter", "name": f"{p.group} +std", "x": p.x, "y": upper, **band}
            )
            data.append(
                {
                    "type": "scatter",
                    "name": f"{p.group} −std",
                    "x": p.x,
                    "y": lower,
                    "fill": "tonexty",
                    "fillcolor": rgba(p.color, 0.18),
                    **band,
                }
            )
            mean = line(p.name, p.x, p.y, p.color, legendgroup=p.group, customdata=p.count)
            mean["line"]["width"] = 2.5
            mean["hovertemplate"] = "%{y:.4g} (n=%{customdata})"
            data.append(mean)
        fig_layout = layout(metric_label(key), X_LABELS[x], metric_label(key))
        if sum(1 for t in data if t.get("showlegend", True)) > 6:
            # Many lines: a scrolling legend beside the plot instead of one that buries it.
            fig_layout["legend"] = {"orientation": "v", "x": 1.01, "y": 1, "font": {"size": 10}}
            fig_layout["margin"].update(r=180, b=48)
        if x == "epoch":
            whole_ticks(fig_layout, max((p.x[-1] for p in mine if p.x), default=0))
        figures.append({"key": key, "figure": {"data": data, "layout": fig_layout}})
    return figures


def lines_csv_rows(lines: Iterable[Plotted], x: str) -> Iterable[list[Any]]:
    """Header then one row per plotted point: exactly the values the charts draw."""
    yield ["metric", "kind", "name", "group", "run_id", x, "value", "std", "count"]
    for p in lines:
        for i, (xv, yv) in enumerate(zip(p.x, p.y, strict=True)):
            std = p.std[i] if p.std else ""
            count = p.count[i] if p.count else ""
            yield [p.metric, p.kind, p.name, p.group, p.run_id or "", xv, yv, std, count]

"""Plotly figure JSON built from metric rows: the shared helpers, the compare page and its
results chart (the run page's charts: app.pages.run_charts).

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

from ssl_core.contract import catalog, metrics

# From the catalog, as the --c-<algorithm> CSS variables (app.pages.render.algorithms_css).
ALGORITHM_COLORS = catalog.colors()
# For groups that are not one algorithm each (a sweep over λ, runs grouped by seed, ...).
PALETTE = (
    "#3a7be0", "#e57a35", "#1f9e73", "#8e5bd0", "#d6456e",
    "#1597a8", "#b08900", "#6b7f8e", "#7fb13d", "#c0612b",
)  # fmt: skip

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
        # Plotly grows each margin to fit what sits in it (the legend, long tick labels).
        "margin": {"l": 58, "r": 16, "t": 38, "b": 48, "autoexpand": True},
        "xaxis": {"title": {"text": x_title}, "zeroline": False, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "zeroline": False, "automargin": True},
        # Beside the plot, never over the axes or their labels however many entries wrap.
        "legend": {
            "orientation": "v",
            "x": 1.02,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "font": {"size": 11},
        },  # fmt: skip
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
    band: list[float | None] = field(default_factory=list)  # half-width drawn: std or 95 % CI


def group_colors(compare: dict[str, Any]) -> list[str]:
    """Per group: the algorithm's colour when the group is the only one made of that algorithm."""
    algorithm_of_run = {run["id"]: run["spec"].get("algorithm") for run in compare["runs"]}
    algorithms = [{algorithm_of_run.get(r) for r in g["runs"]} for g in compare["groups"]]
    single = [next(iter(a)) if len(a) == 1 else None for a in algorithms]
    own = [a if a in ALGORITHM_COLORS and single.count(a) == 1 else None for a in single]
    # The others take palette colours no algorithm-coloured group already shows.
    taken = {ALGORITHM_COLORS[a] for a in own if a}
    spare = iter([c for c in PALETTE if c not in taken] * (len(own) // len(PALETTE) + 1))
    return [ALGORITHM_COLORS[a] if a else next(spare) for a in own]


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
                        ema(clean(agg.get("band", agg["std"])), smoothing),
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
            # Clipped to the metric's valid range: a mask ratio never goes below 0 or above 1.
            row = metrics.lookup(key)
            low, high = (row.low, row.high) if row else (-math.inf, math.inf)
            half = p.band or p.std
            upper = [
                min(m + s, high) if m is not None and s is not None else None
                for m, s in zip(p.y, half, strict=True)
            ]
            lower = [
                max(m - s, low) if m is not None and s is not None else None
                for m, s in zip(p.y, half, strict=True)
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
            few = max(p.count, default=0) < 3  # flagged in the legend and above the charts
            name = f"{p.name} ⚠ n<3" if few else p.name
            mean = line(name, p.x, p.y, p.color, legendgroup=p.group, customdata=p.count)
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


def results_figure(compare: dict[str, Any], band: str) -> dict[str, Any]:
    """The summary metric per group: one dot per seed (hover: run and seed) over the group's
    mean ± std or ± its 95 % CI, so the spread behind a difference is in plain sight."""
    colors = group_colors(compare)
    run_by_id = {run["id"]: run for run in compare["runs"]}
    metric = compare["metric"]
    data = []
    for index, (group, color) in enumerate(zip(compare["groups"], colors, strict=True)):
        # The runs the statistics count (succeeded; running ones too, hollow, under partial).
        runs = [run_by_id[i] for i in group["stats"].get("counted", group["runs"])]
        dots = [(r, (r.get("summary") or {}).get(metric)) for r in runs]
        dots = [(r, v) for r, v in dots if isinstance(v, (int, float))]
        # Spread the dots sideways a little (by seed order, not at random: the page is stable).
        offsets = [(k - (len(dots) - 1) / 2) * 0.08 for k in range(len(dots))]
        data.append({
            "type": "scatter", "mode": "markers", "name": group["name"], "legendgroup": group["name"],
            "x": [index + o for o in offsets], "y": [v for _, v in dots],
            "marker": {"color": color, "size": 8, "opacity": 0.75,
                       "symbol": ["circle-open" if r.get("partial") else "circle" for r, _ in dots]},
            "customdata": [[r["id"], r["spec"].get("seed"), " (partial: still running)"
                            if r.get("partial") else ""] for r, _ in dots],
            "hovertemplate": "run %{customdata[0]}, seed %{customdata[1]}: %{y:.2f}"
                             "%{customdata[2]}<extra></extra>",
        })  # fmt: skip
        s = group["stats"]
        if s["mean"] is None:
            continue
        half = (
            s["std"]
            if band == "std"
            else ((s["ci95"][1] - s["ci95"][0]) / 2 if s["ci95"] else None)
        )
        data.append({
            "type": "scatter", "mode": "markers", "name": f"{group['name']} mean",
            "legendgroup": group["name"], "showlegend": False, "x": [index], "y": [s["mean"]],
            "marker": {"color": color, "size": 14, "symbol": "line-ew-open", "line": {"width": 3}},
            "error_y": {"type": "data", "array": [half or 0], "visible": half is not None,
                        "color": color, "thickness": 2, "width": 10},
            "hovertemplate": f"mean %{{y:.2f}} (n={s['n']})<extra></extra>",
        })  # fmt: skip
        for ref in group.get("references", []):
            # What the paper reports for this setting: a dashed mark beside the group's dots
            # when like for like, a faint dotted one (its differences on hover) when not.
            match = ref.get("match", False)
            note = "match" if match else "different protocol: " + "; ".join(ref["differences"])
            data.append({
                "type": "scatter", "mode": "lines", "showlegend": False,
                "x": [index - 0.3, index + 0.3], "y": [ref["top1"], ref["top1"]],
                "line": {"color": color, "dash": "dash" if match else "dot",
                         "width": 1.5 if match else 1},
                "opacity": 1.0 if match else 0.5,
                "hovertemplate": f"published {ref['top1']:.2f}: {ref['source']} ({note})"
                                 "<extra></extra>",
            })  # fmt: skip
    label = metric.replace("_", " ")
    fig_layout = layout(label, "", f"{label} (%)")
    fig_layout["xaxis"].update(
        tickmode="array",
        tickvals=list(range(len(compare["groups"]))),
        ticktext=[g["name"] for g in compare["groups"]],
        range=[-0.6, len(compare["groups"]) - 0.4],
    )
    fig_layout.update(showlegend=False, hovermode="closest")
    return {"figure": {"data": data, "layout": fig_layout}}

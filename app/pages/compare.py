"""The compare page (``/compare``) and its CSV.

The numbers come from the API's compare function (the same groups, means and stds as
``GET /api/compare``); this module only picks the view (metrics, grouping, x axis, smoothing)
from the URL, so a copied URL reproduces the view and the CSV holds exactly what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import QueryParams

from app.deps import SessionDep, SessionRoute
from app.domain import compare as store_compare
from app.domain.compare import DEFAULT_METRIC, STAT_METRICS, attach_stats
from app.domain.exports import write_csv
from app.domain.finished import excluded_text, partial_text
from app.domain.results import LABELS as STAT_LABELS
from app.domain.stats import BANDS
from app.http.params import parse_ids
from app.pages.figures import compare_figures, compare_lines, lines_csv_rows, results_figure
from app.pages.render import render
from app.store import crud, points
from app.store.models import Run
from app.store.schemas import as_utc
from ssl_core.contract import metrics

router = APIRouter(include_in_schema=False, route_class=SessionRoute)

MAX_POINTS = 400  # per series: enough for a smooth curve
POINTS_PER_CHART = 12_000  # many runs share this, so 50 runs × 1,000 epochs stay quick to draw
DEFAULT_KEYS = metrics.compare_defaults()
X_AXES = ("epoch", "step", "wall_time")


@dataclass
class View:
    """Everything the URL says about a compare view."""

    runs: list[int]
    keys: list[str]
    group_by: str  # "" = runs that differ only in seed form a group
    x: str
    smooth: float
    band: str = "std"  # or "ci95"
    metric: str = DEFAULT_METRIC  # the summary metric of the results table
    baseline: str = ""  # a group name; "" = the labels-only group if there is one, else the first
    partial: bool = False  # running runs count in the statistics (marked partial)

    @classmethod
    def of(cls, query: QueryParams) -> View:
        ids: list[int] = []
        for value in query.getlist("runs"):  # runs=1,2 or runs=1&runs=2 (the table's ticks)
            ids += parse_ids(value, "runs")
        keys = [k for k in (query.get("keys") or "").split(",") if k.strip()]
        try:
            smooth = min(max(float(query.get("smooth") or 0), 0.0), 0.99)
        except ValueError:
            smooth = 0.0
        x = query.get("x") if query.get("x") in X_AXES else "epoch"
        group_by = (query.get("group_by") or "").strip()
        band = query.get("band") if query.get("band") in BANDS else "std"
        metric = query.get("metric") if query.get("metric") in STAT_METRICS else DEFAULT_METRIC
        baseline = (query.get("baseline") or "").strip()[:500]
        partial = query.get("partial") in ("1", "true", "on")
        return cls(
            list(dict.fromkeys(ids)), keys or list(DEFAULT_KEYS), group_by, x, smooth, band,
            metric, baseline, partial,
        )  # fmt: skip

    def query(self, **change: Any) -> str:
        values = {
            "runs": ",".join(map(str, self.runs)),
            "keys": ",".join(self.keys),
            "group_by": self.group_by,
            "x": self.x,
            "smooth": f"{self.smooth:g}",
            "band": "" if self.band == "std" else self.band,
            "metric": "" if self.metric == DEFAULT_METRIC else self.metric,
            "baseline": self.baseline,
            "partial": "1" if self.partial else "",
            **change,
        }
        return str(QueryParams({k: v for k, v in values.items() if v not in ("", None)}))


def to_minutes(data: dict[str, Any], runs: list[Run]) -> None:
    """Wall-time x values as minutes since each run started; a group's x at an epoch is the mean
    over its members (their epochs end at different times)."""
    started = {run.id: as_utc(run.started_at) for run in runs}
    minutes_at: dict[int, dict[int, float]] = {}
    for run in data["runs"]:
        series = [s for s in run["series"].values() if s["wall_time"]]
        first = min((s["wall_time"][0] for s in series), default=0.0)
        start = started.get(run["id"])
        t0 = min(start.timestamp(), first) if start else first
        for s in run["series"].values():
            s["wall_time"] = [(t - t0) / 60 for t in s["wall_time"]]
            minutes_at.setdefault(run["id"], {}).update(
                zip(s["epoch"], s["wall_time"], strict=True)
            )
    for group in data["groups"]:
        for s in group["series"].values():
            xs = []
            for epoch in s["x"]:
                times = [
                    minutes_at[r][epoch] for r in group["runs"] if epoch in minutes_at.get(r, {})
                ]
                xs.append(sum(times) / len(times) if times else None)
            s["x"] = xs


def compare_data(session: Session, view: View) -> dict[str, Any]:
    """The API's compare result for the view, its x axis ready to draw. Without a baseline named,
    the labels-only group is the baseline (else the first group)."""
    args = {
        "runs": view.runs,
        "sweep": None,
        "keys": view.keys,
        "group_by": view.group_by or None,
        "max_points": max(50, min(MAX_POINTS, POINTS_PER_CHART // max(len(view.runs), 1))),
        "x": "step" if view.x == "step" else "epoch",
        "metric": view.metric,
        "band": view.band,
    }
    data = store_compare.compare(
        session, **args, baseline=view.baseline or None, partial=view.partial
    )
    if not view.baseline and len(data["groups"]) > 1:
        attach_stats(data, view.metric, default_baseline(data))
    if view.x == "wall_time":
        to_minutes(data, crud.runs_by_ids(session, view.runs))
    return data


# Environment fields that always differ between runs and say nothing about the result.
ENV_NOISE = {"worker", "host", "slot", "git_diff_sha256"}


def differing_environment(runs: list[dict[str, Any]]) -> list[str]:
    """Environment fields (code, software, device, data) not the same in every run that has a
    record: a difference in results may come from there."""
    envs = [r["environment"] for r in runs if r.get("environment")]
    fields = list(dict.fromkeys(k for env in envs for k in env if k not in ENV_NOISE))
    return [f for f in fields if len({repr(env.get(f)) for env in envs}) > 1]


def default_baseline(data: dict[str, Any]) -> str:
    """The group of labels-only runs when there is exactly one, else the first group."""
    algorithm_of = {run["id"]: run["spec"].get("algorithm") for run in data["runs"]}
    supervised = [
        g["name"] for g in data["groups"] if {algorithm_of[i] for i in g["runs"]} == {"supervised"}
    ]
    return supervised[0] if len(supervised) == 1 else data["groups"][0]["name"]


def group_options(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    options = [("", "runs that differ only in seed"), ("none", "none: every run on its own")]
    fields = ["algorithm", *(data["differing_fields"] if data else [])]
    return options + [(f, f) for f in dict.fromkeys(fields)]


def ordered_keys(keys: list[str]) -> list[str]:
    """Metric keys in reading order: the metric table's (accuracies, losses, the rest), a
    plugin's own keys after them, per-class keys last."""
    rank = {name: i for i, name in enumerate(metrics.METRIC_KEYS)}
    last = len(rank)
    return sorted(
        keys, key=lambda k: (metrics.per_class_prefix(k) is not None, rank.get(k, last), k)
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Runs overlaid per metric, grouped, smoothed; the URL holds the whole view."""
    view = View.of(request.query_params)
    context: dict[str, Any] = {
        "view": view, "data": None, "figures": [], "error": None, "few": [], "active": False,
    }  # fmt: skip
    status_code = 200
    if view.runs:
        try:
            data = compare_data(session, view)
        except crud.InvalidInput as exc:
            context["error"] = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
            status_code = 422
        except crud.NotFound as exc:
            context["error"] = str(exc)
            status_code = 404
        else:
            lines = compare_lines(data, view.x, view.smooth)
            context["data"] = data
            context["active"] = any(r["status"] in ("queued", "running") for r in data["runs"])
            if view.group_by != "none":
                context["few"] = [
                    {"name": g["name"], "n": len(g["runs"])}
                    for g in data["groups"]
                    if len(g["runs"]) < 3
                ]
            context["figures"] = compare_figures(lines, view.keys, view.x)
            context["results_figure"] = results_figure(data, view.band)
            context["env_fields"] = differing_environment(data["runs"])
            context["excluded_text"] = excluded_text(data["excluded"])
            context["partial_text"] = partial_text(data)
            context["table_query"] = str(
                QueryParams({
                    "runs": ",".join(map(str, view.runs)), "group_by": view.group_by,
                    "metric": view.metric, "baseline": data["baseline"] or "", "band": view.band,
                    **({"partial": "1"} if view.partial else {}),
                })
            )  # fmt: skip
        context["available_keys"] = ordered_keys(points.metric_keys(session, view.runs))
    else:
        context["recent"], _ = crud.list_runs(session, limit=40)
        context["available_keys"] = list(DEFAULT_KEYS)
    context.setdefault("env_fields", [])
    context["group_options"] = group_options(context["data"])
    context["stat_metrics"], context["stat_labels"] = STAT_METRICS, STAT_LABELS
    context["x_axes"] = X_AXES
    return render(request, "compare.html", status_code, **context)


@router.get("/compare.csv", response_model=None)
def compare_csv(request: Request, session: SessionDep) -> Response:
    """Exactly the lines the compare page draws for the same URL (smoothed as drawn)."""
    view = View.of(request.query_params)
    if not view.runs:
        return Response(
            "runs: name at least one run, e.g. ?runs=1,2\n", 422, media_type="text/plain"
        )
    try:
        data = compare_data(session, view)
    except crud.InvalidInput as exc:
        return Response(str(exc) + "\n", 422, media_type="text/plain")
    rows = lines_csv_rows(compare_lines(data, view.x, view.smooth), view.x)
    name = "matchlab-compare-" + "-".join(map(str, view.runs[:10])) + ".csv"
    return Response(
        write_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""Compare runs: per group and x, the mean, sample std, min, max and count over member runs."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Response

from app.deps import MAX_ID, SessionDep, SessionRoute
from app.domain.compare import DEFAULT_METRIC, STAT_METRICS, compare
from app.domain.results import FORMATS, render_table
from app.http.params import parse_run_ids, split_keys
from ssl_core.contract import metrics, references

PARTIAL_HELP = (
    "count running runs too, with their latest summary, marked partial; by default the "
    "statistics use succeeded runs only and list the others under `excluded`"
)

router = APIRouter(route_class=SessionRoute, tags=["compare"])


@router.get("/compare", response_model=dict[str, Any])
def compare_route(
    session: SessionDep,
    runs: str | None = Query(None, description="comma-separated run ids", examples=["1,2,3"]),
    sweep: int | None = Query(None, ge=1, le=MAX_ID, description="add every run of this sweep"),
    keys: str = Query(metrics.VAL_TOP1, description="comma-separated metric keys"),
    group_by: str | None = Query(
        None,
        description="comma-separated dotted spec fields, or 'none'; "
        "default: runs that differ only in seed form a group",
    ),
    max_points: int | None = Query(None, ge=2, le=100_000),
    x: Literal["epoch", "step"] = "epoch",
    metric: str = Query(
        DEFAULT_METRIC, description=f"summary metric of the statistics: {', '.join(STAT_METRICS)}"
    ),
    baseline: str | None = Query(
        None,
        max_length=500,
        description="group name: every other group gains its difference to this one, with a "
        "95 % CI and a p-value (paired t-test by seed when both ran the same seeds, else Welch)",
    ),
    band: Literal["std", "ci95"] = Query(
        "std", description="series[...].band: ± sample std, or the 95 % CI of the mean"
    ),
    partial: bool = Query(False, description=PARTIAL_HELP),
) -> Response:
    """Groups with aggregated series plus each member's own series (docs/CONTRACTS.md).

    Encoded with orjson straight to bytes: FastAPI's generic encoder walked every one of the
    ~600k numbers of a 50-run compare and cost more than reading them from the database.
    """
    data = compare(
        session, parse_run_ids(runs), sweep, split_keys(keys), group_by, max_points, x, metric,
        baseline, band, partial,
    )  # fmt: skip
    return Response(orjson.dumps(data), media_type="application/json")


@router.get(
    "/compare/table",
    response_class=Response,
    responses={200: {"content": {t: {} for t in FORMATS.values()}}},
)
def compare_table(
    session: SessionDep,
    runs: str | None = Query(None, description="comma-separated run ids", examples=["1,2,3"]),
    sweep: int | None = Query(None, ge=1, le=MAX_ID, description="add every run of this sweep"),
    group_by: str | None = Query(None, description="as for /api/compare"),
    metric: str = Query(DEFAULT_METRIC, description="the metric of the Δ and p columns"),
    baseline: str | None = Query(None, max_length=500, description="group name"),
    band: Literal["std", "ci95"] = "std",
    format: Literal["csv", "markdown", "latex"] = "csv",
    partial: bool = Query(False, description=PARTIAL_HELP),
) -> Response:
    """The final-results table over succeeded runs: groups × summary metrics (mean ± std or
    ± 95 % CI, n, best per column marked) and the difference of ``metric`` to ``baseline`` with
    its CI, p-value and Holm-adjusted p; the runs left out are named by state in the caption
    (LaTeX), a note line (Markdown) or the ``excluded`` column (CSV)."""
    data = compare(
        session, parse_run_ids(runs), sweep, [metrics.VAL_TOP1], group_by, 2, "epoch", metric,
        baseline, band, partial,
    )  # fmt: skip
    ext = {"csv": "csv", "markdown": "md", "latex": "tex"}[format]
    return Response(
        render_table(data, format, band),
        media_type=FORMATS[format],
        headers={"Content-Disposition": f'inline; filename="matchlab-results.{ext}"'},
    )


@router.get("/references")
def published_references(
    dataset: str | None = Query(None, description="e.g. cifar10"),
    num_labels: int | None = Query(None, ge=1, le=10_000_000),
    algorithm: str | None = Query(None, description="e.g. fixmatch"),
) -> list[dict[str, Any]]:
    """What the papers report (error and top-1 in %, with the source) for a setting, each with
    its protocol: the matchlab dataset of its data (``variant``: ``svhn_extra`` for SVHN), net,
    steps, selection rule, ``caveat`` and the fields not verified against the source."""
    return [ref.as_dict() for ref in references.find(dataset, num_labels, algorithm)]

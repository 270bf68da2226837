"""Compare runs: per group and x, the mean, sample std, min, max and count over member runs.

The one implementation behind ``GET /api/compare``, the compare page, its CSV and the sweep page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlmodel import Session, select

from app.domain.diagnosis import Signal, group_notes, last_epoch_keys, last_signal
from app.domain.finished import counted_groups, group_counts, mark_runs
from app.domain.series import aggregate, downsample, downsample_indices, group_runs, take
from app.domain.stats import BANDS, band_halfwidths, group_stats
from app.store import crud, limits, points
from app.store.models import Run
from ssl_core.contract import catalog, metrics, references, summary

MAX_COMPARE_RUNS = 500
# Summary metrics the statistics can be about (numbers a run's summary holds).
STAT_METRICS = summary.STATISTICS
DEFAULT_METRIC = summary.DEFAULT_STATISTIC


def compare(
    session: Session,
    runs: list[int] | None = None,
    sweep: int | None = None,
    keys: list[str] | None = None,
    group_by: str | None = None,
    max_points: int | None = None,
    x: str = "epoch",
    metric: str = DEFAULT_METRIC,
    baseline: str | None = None,
    band: str = "std",
    partial: bool = False,
) -> dict[str, Any]:
    """Groups with aggregated series plus each member's own series (docs/CONTRACTS.md), and
    per group the statistics of the summary ``metric`` against the ``baseline`` group, over
    its succeeded runs (and its running ones, marked partial, with ``partial``).

    ``runs`` (repeats ignored) and the runs of ``sweep`` are compared on ``keys`` (default
    ``val/top1``); the web layers parse them from their query strings."""
    if band not in BANDS:
        raise crud.InvalidInput([{"field": "band", "message": f"use one of {', '.join(BANDS)}"}])
    if metric not in STAT_METRICS:
        raise crud.InvalidInput(
            [{"field": "metric", "message": f"use one of {', '.join(STAT_METRICS)}"}]
        )
    ids = list(dict.fromkeys(runs or []))
    if sweep is not None:
        ids += [
            i for i in session.exec(select(Run.id).where(Run.sweep_id == sweep)) if i not in ids
        ]
    if not ids:
        raise crud.InvalidInput([{"field": "runs", "message": "name at least one run or a sweep"}])
    if len(ids) > MAX_COMPARE_RUNS:
        raise crud.InvalidInput(
            [{"field": "runs", "message": f"at most {MAX_COMPARE_RUNS} runs at once"}]
        )
    members = crud.runs_by_ids(session, ids)
    missing = sorted(set(ids) - {run.id for run in members})
    if missing:
        raise crud.NotFound(f"runs not found: {', '.join(map(str, missing))}")
    key_list = list(keys) if keys else [metrics.VAL_TOP1]
    limits.check_keys(key_list, limits.MAX_COMPARE_KEYS)
    try:
        groups, differing = group_runs(members, group_by)
    except ValueError as exc:
        raise crud.InvalidInput(crud.error_messages(exc)) from exc
    loaded = points.load_points(session, ids, key_list)
    signals = diagnosis_signals(session, members)
    group_of = {}
    out_groups = []
    for name, value, group_members in groups:
        series = {}
        for key in key_list:
            agg = aggregate([loaded[r.id][key] for r in group_members if key in loaded[r.id]], x)
            agg["band"] = band_halfwidths(agg["std"], agg["count"], band)
            series[key] = take(agg, downsample_indices(agg["mean"], max_points))
        out_groups.append(
            {
                "name": name, "value": value, "runs": [r.id for r in group_members],
                "series": series, "references": group_references(group_members, metric),
                "notes": group_notes(
                    [(signals.get(r.id, Signal()), r.spec or {}) for r in group_members]
                ),
            }
        )  # fmt: skip
        group_of.update({r.id: name for r in group_members})
    data = {
        "keys": key_list,
        "group_by": group_by,  # null: the default grouping (runs that differ only in seed)
        "x": x,
        "groups": out_groups,
        "runs": [
            {
                "id": run.id,
                "name": run.name,
                "status": run.status,
                "group": group_of[run.id],
                "spec": run.spec,
                "summary": run.summary,
                "environment": run.environment,
                "series": {k: downsample(s, max_points) for k, s in loaded[run.id].items()},
            }
            for run in members
        ],
        "differing_fields": differing,
        "band": band,
    }
    mark_runs(data, partial)
    attach_stats(data, metric, baseline)
    return data


def diagnosis_signals(session: Session, runs: list[Run]) -> dict[int, Signal]:
    """What the pseudo-label notes read (app.domain.diagnosis): for the runs of a thresholding
    method, the mask ratio's and pseudo-label accuracy's means from the database; for the runs
    whose algorithm logs them, the last epoch's warm-up values and pseudo-label shares, all
    runs' in one query. Runs that get no notes get no signal."""
    thresholded = [r.id for r in runs if "threshold" in ((r.spec or {}).get("hparams") or {})]
    last_keys = {run.id: keys for run in runs if (keys := _last_epoch_keys(run))}
    if not thresholded and not last_keys:
        return {}
    means = points.mean_points(session, thresholded, [metrics.MASK_RATIO, metrics.PSEUDO_LABEL_ACC])
    wanted = sorted({key for keys in last_keys.values() for key in keys})
    last = points.last_points(session, list(last_keys), wanted)
    signals = {}
    for run_id in dict.fromkeys([*thresholded, *last_keys]):
        mask, epochs = means.get(run_id, {}).get(metrics.MASK_RATIO, (None, 0))
        accuracy = means.get(run_id, {}).get(metrics.PSEUDO_LABEL_ACC, (None, 0))[0]
        signals[run_id] = replace(
            last_signal(last.get(run_id, {})), mask=mask, accuracy=accuracy, epochs=epochs
        )
    return signals


def _last_epoch_keys(run: Run) -> list[str]:
    """The keys whose last-epoch values the notes read for ``run``, from its algorithm's
    declared diagnostics; none when the algorithm or dataset is no longer installed."""
    try:
        diagnostics = catalog.algorithm(run.algorithm).diagnostics
        classes = catalog.dataset(run.dataset).num_classes
    except (KeyError, ValueError):
        return []
    return last_epoch_keys(diagnostics, classes)


def group_references(runs: list[Run], metric: str = DEFAULT_METRIC) -> list[dict[str, Any]]:
    """The published results for the group's setting, when all its runs share algorithm,
    dataset (family: ``svhn`` and ``svhn_extra`` share SVHN's) and label count
    (``ssl_core.contract.references``). Each is a ``match`` only when every run's protocol is
    the reference's too — dataset variant, net, total steps equal, and the statistic ``metric``
    reported by the reference's selection rule — else ``differences`` lists what is not."""
    settings = {(r.algorithm, references.family(r.dataset), r.spec.get("num_labels")) for r in runs}
    if len(settings) != 1:
        return []
    algorithm, dataset, labels = settings.pop()
    selection = summary.SELECTION.get(metric, metric)
    protocols = {(r.dataset, r.spec.get("net"), _total_steps(r.spec)) for r in runs}
    out = []
    for ref in references.find(dataset, labels, algorithm):
        found = [
            diff
            for run_dataset, net, steps in sorted(protocols, key=str)
            for diff in references.differences(ref, run_dataset, net, steps, selection)
        ]
        diffs = list(dict.fromkeys(found))
        out.append({**ref.as_dict(), "match": not diffs, "differences": diffs})
    return out


def _total_steps(spec: dict[str, Any]) -> int | None:
    epochs, iters = spec.get("epochs"), spec.get("iters_per_epoch")
    return epochs * iters if isinstance(epochs, int) and isinstance(iters, int) else None


def attach_stats(data: dict[str, Any], metric: str, baseline: str | None) -> None:
    """Each group of a ``compare`` result gains ``stats`` on the summary ``metric`` against the
    ``baseline`` group over its counted runs (``app.domain.finished``; cheap: the runs'
    summaries are in ``data`` already)."""
    names = [g["name"] for g in data["groups"]]
    if baseline is not None and baseline not in names:
        message = f"no group is named {baseline[:100]!r}; groups: {', '.join(names)}"
        raise crud.InvalidInput([{"field": "baseline", "message": message}])
    stats = group_stats(counted_groups(data), metric, baseline)
    counts = group_counts(data)
    for group in data["groups"]:
        group["stats"] = {**stats[group["name"]], **counts[group["name"]]}
    data.update(metric=metric, baseline=baseline)

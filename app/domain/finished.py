"""Which runs of a comparison its statistics count: succeeded runs only.

A run still training, queued, cancelled or failed has a summary that is not a result (a run
cancelled at epoch 2 of 20 holds its epoch-2 accuracy), so the statistics, result tables and
exports leave it out and say so, by state. With ``partial`` on, running runs count with their
latest summary and are marked partial wherever a number they feed appears (``†`` in tables).
Curves are not statistics: they still draw every selected run.
"""

from __future__ import annotations

from typing import Any

from app.store.models import Status

# The order states are listed in ("excluded: 1 running, 1 cancelled"); unknown states last.
STATE_ORDER = (Status.running, Status.queued, Status.cancelled, Status.failed)
PARTIAL_MARK = "†"


def is_counted(status: str, partial: bool) -> bool:
    return status == Status.succeeded or (partial and status == Status.running)


def is_partial(status: str, partial: bool) -> bool:
    return partial and status == Status.running


def mark_runs(data: dict[str, Any], partial: bool) -> None:
    """Each run of a ``compare`` result gains ``counted`` and ``partial``; the result gains
    ``partial`` (the switch) and ``excluded``: the ids of the runs left out, by state."""
    for run in data["runs"]:
        run["counted"] = is_counted(run["status"], partial)
        run["partial"] = is_partial(run["status"], partial)
    data["partial"] = partial
    data["excluded"] = excluded_by_state(data["runs"])


def excluded_by_state(runs: list[dict[str, Any]]) -> dict[str, list[int]]:
    """``{state: [run ids]}`` of the runs not counted, states in ``STATE_ORDER``."""
    found: dict[str, list[int]] = {}
    for run in runs:
        if not run["counted"]:
            found.setdefault(str(run["status"]), []).append(run["id"])
    rank = {str(state): i for i, state in enumerate(STATE_ORDER)}
    return {state: found[state] for state in sorted(found, key=lambda s: (rank.get(s, 99), s))}


def excluded_text(excluded: dict[str, list[int]]) -> str:
    """ "excluded: 1 running, 1 cancelled", or "" when every run counts."""
    if not excluded:
        return ""
    return "excluded: " + ", ".join(f"{len(ids)} {state}" for state, ids in excluded.items())


def counted_groups(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(group name, its counted runs)`` of a marked ``compare`` result, for the statistics."""
    run_by_id = {run["id"]: run for run in data["runs"]}
    return [
        (g["name"], [run_by_id[i] for i in g["runs"] if run_by_id[i]["counted"]])
        for g in data["groups"]
    ]


def group_counts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per group name: ``counted`` and ``partial`` run ids and its ``excluded`` by state."""
    run_by_id = {run["id"]: run for run in data["runs"]}
    out = {}
    for group in data["groups"]:
        runs = [run_by_id[i] for i in group["runs"]]
        out[group["name"]] = {
            "counted": [r["id"] for r in runs if r["counted"]],
            "partial_runs": [r["id"] for r in runs if r["partial"]],
            "excluded": excluded_by_state(runs),
        }
    return out


def partial_text(data: dict[str, Any]) -> str:
    """The footnote of a table whose numbers include running runs, or ""."""
    ids = [run["id"] for run in data["runs"] if run.get("partial")]
    if not ids:
        return ""
    runs = "run" if len(ids) == 1 else "runs"
    return (
        f"{PARTIAL_MARK} partial: includes the latest value of {len(ids)} running {runs} "
        f"({', '.join(map(str, ids))}), not a finished result"
    )

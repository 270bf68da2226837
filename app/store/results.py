"""The final-results table of a comparison: groups × summary metrics, ready for a paper.

One row per group: n, then per metric the mean ± std (or ± the 95 % CI half-width), and for the
chosen metric the difference to the baseline group with its 95 % CI and p-value. The best mean
per column is marked (bold in Markdown and LaTeX). ``GET /api/compare/table`` and the compare
page's download links serve it as CSV, Markdown or LaTeX (``booktabs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.store.compare import STAT_METRICS
from app.store.exports import markdown_text, write_csv
from app.store.stats import group_stats
from ssl_core.contract import summary

FORMATS = {"csv": "text/csv", "markdown": "text/markdown", "latex": "application/x-latex"}
LABELS = {key: summary.heading(key) for key in STAT_METRICS}


def results_rows(data: dict[str, Any], band: str = "std") -> list[dict[str, Any]]:
    """Per group of a ``compare`` result: name, n, and per summary metric its statistics (the
    chosen metric's against the baseline, as ``attach_stats`` left them)."""
    run_by_id = {run["id"]: run for run in data["runs"]}
    groups = [(g["name"], [run_by_id[i] for i in g["runs"]]) for g in data["groups"]]
    per_metric = {m: group_stats(groups, m, None) for m in STAT_METRICS}
    rows = []
    for group in data["groups"]:
        name = group["name"]
        cells = {}
        for metric in STAT_METRICS:
            s = group["stats"] if metric == data.get("metric") else per_metric[metric][name]
            half = s["std"]
            if band == "ci95" and s["ci95"] is not None:
                half = (s["ci95"][1] - s["ci95"][0]) / 2
            cells[metric] = {
                "mean": s["mean"], "std": s["std"], "half": half, "n": s["n"], "ci95": s["ci95"],
            }  # fmt: skip
        rows.append({"group": name, "runs": group["runs"], "cells": cells, "stats": group["stats"]})
    for metric in STAT_METRICS:
        means = [r["cells"][metric]["mean"] for r in rows if r["cells"][metric]["mean"] is not None]
        best = max(means, default=None)
        for row in rows:
            row["cells"][metric]["best"] = best is not None and row["cells"][metric]["mean"] == best
    return rows


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(cell: dict[str, Any]) -> str:
    if cell["mean"] is None:
        return "–"
    spread = f" ± {_num(cell['half'])}" if cell["half"] is not None else ""
    return f"{_num(cell['mean'])}{spread}"


def _diff(stats: dict[str, Any]) -> tuple[str, str]:
    if stats.get("diff_vs_baseline") is None:
        return "–", "–"
    diff = f"{stats['diff_vs_baseline']:+.2f}"
    if stats.get("diff_ci95"):
        lo, hi = stats["diff_ci95"]
        diff += f" [{lo:+.2f}, {hi:+.2f}]"
    p = stats.get("p_value")
    p_text = "–" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001")
    if p is not None and stats.get("paired"):
        p_text += " (paired)"
    return diff, p_text


def _headers(data: dict[str, Any], band: str, text: Callable[[str], str] = str) -> list[str]:
    """The column names; ``text`` quotes the one part a user chose (the baseline's name)."""
    spread = "± 95% CI" if band == "ci95" else "± std"
    metric = LABELS[data["metric"]]
    return [
        "group", "n", *[f"{LABELS[m]} {spread}" for m in STAT_METRICS],
        f"Δ {metric} vs {text(data.get('baseline') or '—')} [95% CI]", "p",
    ]  # fmt: skip


def to_csv(data: dict[str, Any], band: str = "std") -> str:
    """Machine-readable: every number in its own column."""
    header = ["group", "n", "runs"]
    for metric in STAT_METRICS:
        header += [f"{metric}_mean", f"{metric}_std", f"{metric}_ci95_low", f"{metric}_ci95_high"]
    header += ["metric", "baseline", "diff", "diff_ci95_low", "diff_ci95_high", "p_value", "paired"]
    rows: list[list[Any]] = [header]
    for result in results_rows(data, band):
        row: list[Any] = [result["group"], result["stats"]["n"], " ".join(map(str, result["runs"]))]
        for cell in result["cells"].values():
            ci = cell["ci95"] or [None, None]
            row += [cell["mean"], cell["std"], ci[0], ci[1]]
        st = result["stats"]
        dci = st.get("diff_ci95") or [None, None]
        row += [data["metric"], data.get("baseline") or "", st.get("diff_vs_baseline"), dci[0],
                dci[1], st.get("p_value"), st.get("paired")]  # fmt: skip
        rows.append(row)
    return write_csv(rows)


def to_markdown(data: dict[str, Any], band: str = "std") -> str:
    header = _headers(data, band, markdown_text)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for row in results_rows(data, band):
        cells = [_cell(c) for c in row["cells"].values()]
        cells = [
            f"**{text}**" if c["best"] else text
            for text, c in zip(cells, row["cells"].values(), strict=True)
        ]
        diff, p = _diff(row["stats"])
        group = markdown_text(row["group"])
        lines.append("| " + " | ".join([group, str(row["stats"]["n"]), *cells, diff, p]) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(data: dict[str, Any], band: str = "std") -> str:
    """A ``booktabs`` table (``\\usepackage{booktabs}``); best mean per column in bold."""
    header = [
        latex_escape(h).replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
        for h in _headers(data, band)
    ]
    lines = [
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    for row in results_rows(data, band):
        cells = []
        for cell in row["cells"].values():
            text = _cell(cell).replace("±", r"$\pm$").replace("–", "--")
            cells.append(rf"\textbf{{{text}}}" if cell["best"] else text)
        diff, p = (t.replace("–", "--").replace("<", "$<$") for t in _diff(row["stats"]))
        group = latex_escape(row["group"])
        lines.append(" & ".join([group, str(row["stats"]["n"]), *cells, diff, p]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def render_table(data: dict[str, Any], fmt: str, band: str = "std") -> str:
    return {"csv": to_csv, "markdown": to_markdown, "latex": to_latex}[fmt](data, band)

"""The final-results table of a comparison: groups × summary metrics, ready for a paper.

One row per group: n, then per metric the mean ± std (or ± the 95 % CI half-width), and for the
chosen metric the difference to the baseline group with its 95 % CI, p-value and Holm-adjusted
p. The best mean per column is marked (bold in Markdown and LaTeX). ``GET /api/compare/table``
and the compare page's download links serve it as CSV, Markdown or LaTeX (``booktabs``).

Only counted runs feed it (succeeded ones; running ones too under ``partial``, app.domain.finished).
What was left out, the partial runs (``†``, never bold) and the tests on too few seeds are said
where each format has room: the LaTeX caption, a note paragraph under the Markdown table, and in
CSV — kept one header and one row per group, no comment lines — the ``excluded``,
``excluded_runs``, ``partial_runs`` and ``caution`` columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.compare import STAT_METRICS
from app.domain.exports import markdown_text, write_csv
from app.domain.finished import PARTIAL_MARK, counted_groups, excluded_text, partial_text
from app.domain.stats import group_stats
from ssl_core.contract import summary

FORMATS = {"csv": "text/csv", "markdown": "text/markdown", "latex": "application/x-latex"}
LABELS = {key: summary.heading(key) for key in STAT_METRICS}


def results_rows(data: dict[str, Any], band: str = "std") -> list[dict[str, Any]]:
    """Per group of a ``compare`` result: name, n, and per summary metric its statistics (the
    chosen metric's against the baseline, as ``attach_stats`` left them)."""
    per_metric = {m: group_stats(counted_groups(data), m, None) for m in STAT_METRICS}
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
        stats = group["stats"]
        partial = bool(stats.get("partial_runs"))
        label = f"{name} {PARTIAL_MARK}" if partial else name
        rows.append({"group": name, "label": label, "runs": stats["counted"], "cells": cells,
                     "stats": stats, "partial": partial})  # fmt: skip
    for metric in STAT_METRICS:
        # A half-trained number is never the best: partial rows do not compete for bold.
        means = [
            r["cells"][metric]["mean"]
            for r in rows
            if r["cells"][metric]["mean"] is not None and not r["partial"]
        ]
        best = max(means, default=None)
        for row in rows:
            row["cells"][metric]["best"] = (
                best is not None and not row["partial"] and row["cells"][metric]["mean"] == best
            )
    return rows


def notes(data: dict[str, Any], text: Callable[[str], str] = str) -> list[str]:
    """The sentences under (or in the caption of) a table: which runs count and which do not,
    the partial mark, the Holm family and the tests on too few seeds; ``text`` quotes the
    group names (user text)."""
    counted = "succeeded and running runs" if data.get("partial") else "succeeded runs only"
    left_out = excluded_text(data.get("excluded") or {})
    out = [f"Over {counted}" + (f"; {left_out}." if left_out else ".")]
    if marked := partial_text(data):
        out.append(marked + ".")
    compared = [g for g in data["groups"] if g["stats"].get("p_value") is not None]
    if data.get("baseline") and len(compared) > 1:
        out.append(f"p (Holm): Holm-adjusted over the {len(compared)} comparisons with "
                   f"{text(data['baseline'])}.")  # fmt: skip
    out += [
        f"{text(g['name'])}: {g['stats']['caution']}."
        for g in data["groups"]
        if g["stats"].get("caution")
    ]
    return out


def _p(p: float | None) -> str:
    return "–" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001")


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(cell: dict[str, Any]) -> str:
    if cell["mean"] is None:
        return "–"
    spread = f" ± {_num(cell['half'])}" if cell["half"] is not None else ""
    return f"{_num(cell['mean'])}{spread}"


def _diff(stats: dict[str, Any]) -> tuple[str, str, str]:
    if stats.get("diff_vs_baseline") is None:
        return "–", "–", "–"
    diff = f"{stats['diff_vs_baseline']:+.2f}"
    if stats.get("diff_ci95"):
        lo, hi = stats["diff_ci95"]
        diff += f" [{lo:+.2f}, {hi:+.2f}]"
    p_text = _p(stats.get("p_value"))
    if stats.get("p_value") is not None and stats.get("paired"):
        p_text += " (paired)"
    return diff, p_text, _p(stats.get("p_holm"))


def _headers(data: dict[str, Any], band: str, text: Callable[[str], str] = str) -> list[str]:
    """The column names; ``text`` quotes the one part a user chose (the baseline's name)."""
    spread = "± 95% CI" if band == "ci95" else "± std"
    metric = LABELS[data["metric"]]
    return [
        "group", "n", *[f"{LABELS[m]} {spread}" for m in STAT_METRICS],
        f"Δ {metric} vs {text(data.get('baseline') or '—')} [95% CI]", "p", "p (Holm)",
    ]  # fmt: skip


def to_csv(data: dict[str, Any], band: str = "std") -> str:
    """Machine-readable: every number in its own column."""
    header = ["group", "n", "runs"]
    for metric in STAT_METRICS:
        header += [f"{metric}_mean", f"{metric}_std", f"{metric}_ci95_low", f"{metric}_ci95_high"]
    header += ["metric", "baseline", "diff", "diff_ci95_low", "diff_ci95_high", "p_value", "paired",
               "p_holm", "caution", "excluded", "excluded_runs", "partial_runs"]  # fmt: skip
    rows: list[list[Any]] = [header]
    for result in results_rows(data, band):
        row: list[Any] = [result["group"], result["stats"]["n"], " ".join(map(str, result["runs"]))]
        for cell in result["cells"].values():
            ci = cell["ci95"] or [None, None]
            row += [cell["mean"], cell["std"], ci[0], ci[1]]
        st = result["stats"]
        dci = st.get("diff_ci95") or [None, None]
        left_out = st.get("excluded") or {}
        row += [data["metric"], data.get("baseline") or "", st.get("diff_vs_baseline"), dci[0],
                dci[1], st.get("p_value"), st.get("paired"), st.get("p_holm"), st.get("caution"),
                excluded_text(left_out).removeprefix("excluded: "),
                " ".join(str(i) for ids in left_out.values() for i in ids),
                " ".join(map(str, st.get("partial_runs") or []))]  # fmt: skip
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
        diff, p, p_holm = _diff(row["stats"])
        group = markdown_text(row["group"]) + (f" {PARTIAL_MARK}" if row["partial"] else "")
        lines.append(
            "| " + " | ".join([group, str(row["stats"]["n"]), *cells, diff, p, p_holm]) + " |"
        )
    return "\n".join([*lines, "", " ".join(notes(data, markdown_text))]) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_text(text: str) -> str:
    return latex_escape(text).replace(PARTIAL_MARK, r"$^\dagger$").replace("–", "--")


def to_latex(data: dict[str, Any], band: str = "std") -> str:
    """A ``table`` float holding a ``booktabs`` tabular (``\\usepackage{booktabs}``); best mean
    per column in bold (never a partial row's); the caption says which runs count."""
    header = [
        latex_escape(h).replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
        for h in _headers(data, band)
    ]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
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
        diff, p, p_holm = (t.replace("–", "--").replace("<", "$<$") for t in _diff(row["stats"]))
        group = _latex_text(row["label"])
        lines.append(" & ".join([group, str(row["stats"]["n"]), *cells, diff, p, p_holm]) + r" \\")
    caption = f"{LABELS[data['metric']].capitalize()} per group. " + " ".join(notes(data))
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_latex_text(caption)}}}",
              r"\end{table}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def render_table(data: dict[str, Any], fmt: str, band: str = "std") -> str:
    return {"csv": to_csv, "markdown": to_markdown, "latex": to_latex}[fmt](data, band)

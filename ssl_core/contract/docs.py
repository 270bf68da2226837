"""The generated parts of docs/CONTRACTS.md (the callback protocol, the metric and summary rows,
the catalog) and of the README (the hyperparameter table), written from the code so the
documents cannot drift (``tests/test_contracts.py``).

``python -m ssl_core.contract.docs`` rewrites the generated sections in place.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from pathlib import Path

from ssl_core.contract import callbacks, catalog, charts, metrics, summary

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "CONTRACTS.md"
README = ROOT / "README.md"
BEGIN, END = (
    "<!-- generated: {name} (python -m ssl_core.contract.docs) -->",
    "<!-- end generated -->",
)


def _range(key: metrics.MetricKey) -> str:
    low = "−∞" if math.isinf(key.low) else f"{key.low:g}"
    high = "∞" if math.isinf(key.high) else f"{key.high:g}"
    return f"[{low}, {high}]"


def metric_keys() -> str:
    rows = [
        "| key | label | unit | valid range | run-page chart (drawn ×) | logged by | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    everyone = set(catalog.ALGORITHMS)
    titles = {chart.id: chart.title for chart in charts.CHARTS}
    for key in metrics.METRIC_KEYS.values():
        emitted = key.emitted_by()
        who = "all" if set(emitted) == everyone else ", ".join(emitted)
        if key.scope == "compiled":
            who += ", in runs with `compile` on"
        chart = titles.get(key.chart, "—")
        if key.scale != 1:
            chart += f" (×{key.scale:g})"
        rows.append(
            f"| `{key.name}` | {key.label} | {key.unit} | {_range(key)} | {chart} | {who} | "
            f"{key.description} |"
        )
    return "\n".join(rows)


def summary_fields() -> str:
    rows = ["| key | label | unit | meaning |", "|---|---|---|---|"]
    for field in summary.FIELDS:
        rows.append(f"| `{field.key}` | {field.label} | {field.unit} | {field.description} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def hyperparameters() -> str:
    """The README's table: each algorithm's hyperparameters with default and description."""
    rows = ["| algorithm | hyperparameters (`hparams.*`: default, what it is) |", "|---|---|"]
    for entry in catalog.CATALOG.algorithms.values():
        params = "; ".join(
            f"`{name}` ({_cell(str(field.default))}): {_cell(field.description or '')}"
            for name, field in entry.params.model_fields.items()
        )
        if entry.default_ema_decay != catalog.AlgorithmEntry.default_ema_decay:
            params += f"; the spec's `ema_decay` defaults to {entry.default_ema_decay:g} here"
        rows.append(f"| `{entry.name}` | {params or '—'} |")
    return "\n".join(rows)


def callback_protocol() -> str:
    lines = ["```python"]
    for cls in (callbacks.TrainStart, callbacks.EpochEnd):
        fields = ", ".join(
            f"{name}: {field.type}" for name, field in cls.__dataclass_fields__.items()
        )
        lines.append(f"class {cls.__name__}: {fields}")
    for name in ("on_train_start", "on_step", "should_stop", "on_epoch_end"):
        signature = inspect.signature(getattr(callbacks.TrainingCallback, name))
        lines.append(f"def {name}{signature}")
    lines.append("```")
    return "\n".join(lines).replace("'", "")


def algorithms() -> str:
    rows = ["| name | views | default uratio | diagnostics | hyperparameters (default) |",
            "|---|---|---|---|---|"]  # fmt: skip
    for entry in catalog.CATALOG.algorithms.values():
        params = ", ".join(
            f"`{name}` ({field.default})" for name, field in entry.params.model_fields.items()
        )
        views = entry.views if not callable(entry.views) else "per hyperparameters"
        views = ", ".join(views) if isinstance(views, tuple) else views
        rows.append(
            f"| `{entry.name}` | {views or '—'} | {entry.default_uratio} | "
            f"{', '.join(f'`{d}`' for d in entry.diagnostics) or '—'} | {params or '—'} |"
        )
    return "\n".join(rows)


SECTIONS = {
    "callbacks": callback_protocol,
    "metric keys": metric_keys,
    "summary fields": summary_fields,
    "algorithms": algorithms,
}
README_SECTIONS = {"hyperparameters": hyperparameters}


def render(text: str, sections: dict = SECTIONS) -> str:
    """``text`` with every generated section replaced by what the code says now."""
    for name, make in sections.items():
        begin = BEGIN.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOC}: no generated section {name!r} ({begin} … {END})")
        text = pattern.sub(lambda _m, m=make, b=begin: f"{b}\n{m()}\n{END}", text)
    return text


if __name__ == "__main__":
    for path, sections in ((DOC, SECTIONS), (README, README_SECTIONS)):
        path.write_text(render(path.read_text(), sections))
        sys.stdout.write(f"wrote {path}\n")

"""What every HTML page shares: the Jinja2 environment, its filters, static files, redirects.

Jinja autoescapes everything; user text (run names, notes, errors) is never marked safe, and data
for the page's JavaScript goes through ``|tojson`` into ``<script type="application/json">``.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from app.pages.assets import static_url
from app.pages.figures import ALGORITHM_COLORS, metric_label
from app.pages.plot_text import safe_figures
from ssl_core.contract import catalog, metrics, summary
from ssl_core.contract.spec import flatten_spec

ROOT = Path(__file__).resolve().parents[2]

# autoescape=True for every template, whatever its file name.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(ROOT / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_env)


def number(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def value_label(value: Any) -> str:
    """A spec value as people write it: ``crop+flip``, ``none``, ``0.1``."""
    if isinstance(value, list):
        return "+".join(map(str, value)) or "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def spec_value(spec: dict[str, Any], key: str) -> Any:
    return flatten_spec(spec).get(key)


def spec_cell(spec: dict[str, Any], key: str) -> str:
    """A spec field for a table: "n/a" where the field does not apply to the run (another
    algorithm's hyperparameter), and what a null means where it has a meaning ("Beta draw")."""
    flat = flatten_spec(spec)
    if key not in flat:
        return "n/a"
    if flat[key] is None and key.startswith("hparams."):
        entry = catalog.CATALOG.algorithms.get(spec.get("algorithm", ""))
        field = entry.params.model_fields.get(key.split(".", 1)[1]) if entry else None
        extra = (field.json_schema_extra or {}) if field else {}
        if isinstance(extra, dict) and "null_means" in extra:
            return str(extra["null_means"])
    return value_label(flat[key])


templates.env.globals.update(
    static_url=static_url,
    algorithm_colors=ALGORITHM_COLORS,
    spec_value=spec_value,
    spec_cell=spec_cell,
    # The summary's fields as rows (key, label, unit, digits): panels and table columns.
    summary_fields=summary.FIELDS,
)
# One key per class (FlexMatch's thresholds, the pseudo-label shares): listed and drawn apart.
templates.env.tests["per_class_key"] = lambda key: metrics.per_class_prefix(key) is not None
templates.env.filters.update(
    number=number,
    duration=duration,
    when=when,
    value_label=value_label,
    metric_label=metric_label,
    safe_figures=safe_figures,
)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def local_path(target: str | None, fallback: str) -> str:
    """Only same-site paths are redirect targets (never ``//evil.example`` or ``https://...``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def with_query(path: str, **params: str) -> str:
    """``path`` with ``params`` added to its query string."""
    return f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "message.html", 404, title="Not found", message=f"{what} not found.")


def action_failed(request: Request, message: str) -> HTMLResponse:
    return render(request, "message.html", 409, title="Not possible now", message=message)


def next_path(form: FormData, fallback: str) -> str:
    """The form's ``next`` (a local path: where the user came from), else ``fallback``."""
    value = form.get("next")
    return local_path(value if isinstance(value, str) else None, fallback)

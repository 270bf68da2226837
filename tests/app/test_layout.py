"""The import graph shows the roles as folders (docs/ARCHITECTURE in README's "Code map"):

- ``app.api`` (JSON routes) and ``app.pages`` (HTML routes) never import each other, and one API
  module never imports another: both call ``app.domain`` and ``app.store``;
- ``app.store`` (persistence: models, database, queries, edits) imports neither the domain nor
  any web layer;
- ``app.domain`` (compare, stats, sweeps, diagnosis, result tables) imports no web layer;
- ``app.live`` (notifications, event streams) imports no routes;
- the top level of ``app/`` stays the few modules that tie the parts together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
TOP_LEVEL = {"__init__", "client", "config", "deps", "main", "queue"}
ROLES = {"api", "pages", "domain", "store", "live", "http", "stack"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "app" or n.startswith("app.")}


GRAPH = {_module(p): _imports(p) for p in APP.rglob("*.py")}


def _offenders(role: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    out = {}
    for module, imports in GRAPH.items():
        if module == role or module.startswith(role + "."):
            bad = sorted(i for i in imports if i.startswith(forbidden))
            if bad:
                out[module] = bad
    return out


def test_app_is_grouped_by_role():
    top = {p.stem for p in APP.glob("*.py")}
    assert top == TOP_LEVEL, f"new top-level modules belong in a role folder: {top - TOP_LEVEL}"
    folders = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == ROLES


def test_pages_never_import_the_api():
    assert _offenders("app.pages", ("app.api",)) == {}


def test_api_never_imports_pages_and_no_route_module_imports_another():
    assert _offenders("app.api", ("app.pages",)) == {}
    for module, imports in GRAPH.items():
        if module.startswith("app.api."):
            others = {i for i in imports if i.startswith("app.api.") and i != module}
            assert not others, f"{module} imports {sorted(others)}"


WEB = ("app.api", "app.pages", "app.http", "app.main", "app.stack")


def test_store_imports_neither_the_domain_nor_a_web_layer():
    assert _offenders("app.store", ("app.domain", *WEB, "app.live", "app.queue")) == {}


def test_domain_imports_no_web_layer():
    assert _offenders("app.domain", (*WEB, "app.live", "app.queue")) == {}


def test_live_imports_no_web_layer():
    assert _offenders("app.live", WEB) == {}


def test_the_checks_see_a_violation():
    # The graph is real: pages do import the domain, the domain does import the store, the API
    # does import deps.
    assert any(i.startswith("app.domain") for i in GRAPH["app.pages.compare"])
    assert any(i.startswith("app.store") for i in GRAPH["app.domain.sweeps"])
    assert "app.deps" in GRAPH["app.api.runs"] or any(
        i.startswith("app.deps") for i in GRAPH["app.api.runs"]
    )


# Streams await their work (database reads in a thread, Redis through redis.asyncio). Every
# other route is a plain ``def``: FastAPI runs it in a worker thread, so a slow database or a
# Redis that never answers holds up that request alone (tests/reliability/test_slow_redis.py).
# (Paths as their routers declare them: the event stream is /api/runs/{run_id}/events.) The
# docs pages come from fastapi-offline and only render a template. Static files and the health
# check run their work in threads of their own, so a stalled database never holds them up.
ASYNC_ROUTES = {"/runs/{run_id}/events", "/docs", "/docs/oauth2-redirect", "/redoc"}
ASYNC_ROUTES |= {"/static/{name}", "/health"}


def test_no_route_that_touches_redis_or_the_database_runs_on_the_event_loop(settings):
    import inspect

    from fastapi.routing import APIRoute

    from app.main import create_app

    def flat(routes):  # included routers nest (FastAPI keeps them as _IncludedRouter)
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from flat(inner.routes) if inner is not None else [route]

    routes = [r for r in flat(create_app(settings).routes) if isinstance(r, APIRoute)]
    assert len(routes) > 20
    on_loop = {r.path for r in routes if inspect.iscoroutinefunction(r.endpoint)}
    assert on_loop == ASYNC_ROUTES

"""Ids from 2^31 on, on SQLite and on PostgreSQL (32-bit INTEGER ids): every route that takes an
id answers 422 naming the field and the valid range, never a 500 from the driver."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.store.db import _engines

ADMIN_URL = os.environ.get(
    "MATCHLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BIG = [2**31, 2**63, 2**64]
VALID = "from 1 to 2147483647"


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    if request.param == "sqlite":
        with TestClient(create_app(settings), raise_server_exceptions=False) as c:
            yield c
        return
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    name = f"matchlab_small_ids_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    pg = settings.model_copy(update={"database_url": url})
    try:
        with TestClient(create_app(pg), raise_server_exceptions=False) as c:
            yield c
    finally:
        engine = _engines.pop(pg.db_url, None)
        if engine is not None:
            engine.dispose()
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every route (API and pages) with an id in its path, as (method, path template)."""

    def flat(routes, prefix: str = ""):
        # Included routers nest (FastAPI keeps them as _IncludedRouter); the innermost include
        # carries the whole prefix of its routes.
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is None:
                yield prefix + getattr(route, "path", ""), route
            else:
                yield from flat(inner.routes, route.include_context.prefix)

    found = []
    for path, route in flat(client.app.routes):
        if isinstance(route, APIRoute) and re.search(r"\{(run|sweep)_id\}", path):
            found += [(method, path) for method in sorted(route.methods) if method != "HEAD"]
    return found


def _assert_422(response, field: str, case) -> None:
    assert response.status_code == 422, (case, response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert any(d["field"] == field and VALID in d["message"] for d in detail), (case, detail)


def test_every_path_id_from_2_31_is_a_422(client: TestClient):
    routes = _routes(client)
    assert len(routes) >= 20, routes  # the API's and the pages' run and sweep routes
    for method, template in routes:
        field = "run_id" if "{run_id}" in template else "sweep_id"
        for big in BIG:
            path = template.replace("{run_id}", str(big)).replace("{sweep_id}", str(big))
            _assert_422(client.request(method, path), field, (method, path))


@pytest.mark.parametrize("big", BIG)
def test_ids_in_queries_forms_and_bodies_from_2_31_are_a_422(client: TestClient, big: int):
    client.post("/api/runs", json={"algorithm": "fixmatch"}).raise_for_status()
    cases = [
        ("GET", f"/api/compare?runs=1,{big}", {}, "runs"),
        ("GET", f"/api/compare?sweep={big}", {}, "sweep"),
        ("GET", f"/api/compare/table?runs={big}", {}, "runs"),
        ("GET", f"/api/runs?sweep={big}", {}, "sweep"),
        ("GET", f"/compare?runs=1,{big}", {}, "runs"),
        ("GET", f"/compare.csv?runs={big}", {}, "runs"),
        ("GET", f"/?sweep={big}", {}, "sweep"),
        (
            "POST",
            "/api/runs/bulk",
            {"json": {"ids": [1, big], "action": "tag", "tag": "x"}},
            "ids.1",
        ),
        ("POST", "/runs/bulk", {"data": {"runs": [str(big)], "action": "cancel"}}, "runs"),
    ]
    for method, path, kwargs, field in cases:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 422, (path, response.status_code, response.text[:300])
        assert field in response.text and "2147483647" in response.text, (path, response.text[:300])


def test_the_largest_id_is_still_a_plain_404(client: TestClient):
    assert client.get(f"/api/runs/{2**31 - 1}").status_code == 404
    assert client.get(f"/api/sweeps/{2**31 - 1}").status_code == 404

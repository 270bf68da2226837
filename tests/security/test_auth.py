"""MATCHLAB_API_TOKEN: bearer token on the API, login + signed session + CSRF on the pages,
the public-reads switch, and the other-site check when no token is set."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.config import Settings
from app.http.auth import SESSION_COOKIE
from app.main import create_app
from app.store.db import get_engine
from app.store.models import Run, Status
from tests.app.conftest import set_run

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
FORM = {"algorithm": "fixmatch", "shown_algorithm": "fixmatch", "epochs": "2", "name": "formed"}


def app_with(settings: Settings, **changes) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes)), follow_redirects=False)


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    with app_with(settings, api_token=TOKEN) as client:
        yield client


def run_count(settings: Settings) -> int:
    with Session(get_engine(settings)) as session:
        return session.exec(select(func.count()).select_from(Run)).one()


def finished_run(client: TestClient, settings: Settings) -> int:
    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=BEARER).json()["id"]
    set_run(get_engine(settings), run_id, status=Status.succeeded)
    return run_id


def log_in(client: TestClient) -> str:
    client.cookies.clear()
    response = client.post("/login", data={"token": TOKEN, "next": "/runs/new"})
    assert response.status_code == 303 and response.headers["location"] == "/runs/new"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    return client.cookies[SESSION_COOKIE]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def api_routes(client: TestClient, methods: set[str]) -> list[tuple[str, str]]:
    """(method, path) of every /api operation in the OpenAPI document."""
    paths = client.get("/openapi.json", headers=BEARER).json()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if m.upper() in methods]


def test_the_web_server_binds_localhost_unless_told_otherwise():
    from matchlab.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["web"]).host == "127.0.0.1"
    assert parser.parse_args(["up"]).host == "127.0.0.1"
    assert parser.parse_args(["web", "--host", "0.0.0.0"]).host == "0.0.0.0"


def test_every_change_through_the_api_needs_the_bearer_token(guarded, settings):
    run_id = finished_run(guarded, settings)
    log_in(guarded)  # a page login must not be enough to change state through the API
    writes = api_routes(guarded, {"POST", "PUT", "PATCH", "DELETE"})
    assert len(writes) >= 5
    before = run_count(settings)
    for method, path in writes:
        url = path.replace("{run_id}", str(run_id))
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = guarded.request(method, url, json={"algorithm": "fixmatch"}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert "Bearer" in response.json()["detail"]
    assert run_count(settings) == before
    assert guarded.get(f"/api/runs/{run_id}", headers=BEARER).json()["status"] == "succeeded"
    made = guarded.post("/api/runs", json={"algorithm": "fixmatch"}, headers=BEARER)
    assert made.status_code == 201


def test_reads_need_the_token_or_a_login_unless_reads_are_public(guarded, settings):
    run_id = finished_run(guarded, settings)
    reads = [(m, p.replace("{run_id}", str(run_id)).replace("{sweep_id}", "1"))
             for m, p in api_routes(guarded, {"GET"}) if p != "/api/health"]  # fmt: skip
    assert len(reads) >= 8
    for method, url in reads:
        url += "?runs=1" if "/compare" in url else ""
        assert guarded.request(method, url).status_code == 401, url
        assert guarded.request(method, url, headers=BEARER).status_code in (200, 404), url
    assert guarded.get("/api/health").status_code in (200, 503)  # health checks hold no token
    log_in(guarded)  # the pages' scripts read /api with the session cookie
    assert guarded.get(f"/api/runs/{run_id}/metrics").status_code == 200
    assert guarded.get(f"/api/runs/{run_id}/events").status_code == 200

    with app_with(settings, api_token=TOKEN, public_reads=True) as public:
        for method, url in reads:
            url += "?runs=1" if "/compare" in url else ""
            assert public.request(method, url).status_code in (200, 404), url
        assert public.get("/").status_code == 200 and "csrf_token" not in public.get("/").text
        assert public.post("/api/runs", json={"algorithm": "fixmatch"}).status_code == 401
        assert public.post("/runs/new", data=FORM).status_code == 403


def test_pages_need_a_login_and_forms_a_csrf_token(guarded, settings):
    page = guarded.get("/runs/new?algorithm=fixmatch")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/runs/new%3Falgorithm%3Dfixmatch"
    assert guarded.get("/static/style.css").status_code == 200  # assets stay open
    wrong = guarded.post("/login", data={"token": "guess", "next": "/"})
    assert wrong.status_code == 401 and SESSION_COOKIE not in guarded.cookies
    assert "not this server" in wrong.text
    # A redirect after login stays on this site.
    assert (
        guarded.post("/login", data={"token": TOKEN, "next": "//evil.example/"}).headers["location"]
        == "/"
    )

    log_in(guarded)
    token = csrf_of(guarded.get("/runs/new").text)
    assert guarded.post("/runs/new", data=FORM).status_code == 403  # no CSRF token
    assert guarded.post("/runs/new", data={**FORM, "csrf_token": "0" * 64}).status_code == 403
    assert run_count(settings) == 0
    made = guarded.post("/runs/new", data={**FORM, "csrf_token": token})
    assert made.status_code == 303 and run_count(settings) == 1
    run_page = guarded.get(made.headers["location"]).text
    assert csrf_of(run_page) == token and "Log out" in run_page

    # Another session's token does not fit this session.
    with app_with(settings, api_token=TOKEN) as other:
        log_in(other)
        assert other.post("/runs/new", data={**FORM, "csrf_token": token}).status_code == 403
    # A forged or re-signed cookie is no login; a new token logs everyone out.
    forged = guarded.cookies[SESSION_COOKIE][:-4] + "abcd"
    guarded.cookies.clear()
    guarded.cookies.set(SESSION_COOKIE, forged)
    assert guarded.get("/").status_code == 303
    cookie = log_in(guarded)
    with app_with(settings, api_token="another-token") as rotated:
        rotated.cookies.set(SESSION_COOKIE, cookie)
        assert rotated.get("/").status_code == 303
    assert guarded.post("/logout", data={"csrf_token": token}).status_code == 403  # stale
    fresh = csrf_of(guarded.get("/").text)
    assert guarded.post("/logout", data={"csrf_token": fresh}).status_code == 303
    assert SESSION_COOKIE not in guarded.cookies
    assert guarded.get("/").status_code == 303


def test_without_a_token_a_form_from_another_site_is_refused(settings):
    with app_with(settings) as open_lab:
        other = {"Origin": "http://evil.example"}
        assert open_lab.post("/runs/new", data=FORM, headers=other).status_code == 403
        assert run_count(settings) == 0
        same = {"Origin": "http://testserver"}
        assert open_lab.post("/runs/new", data=FORM, headers=same).status_code == 303
        # X-Forwarded-Host from no configured proxy is the client's own word (test_site_guard.py)
        proxied = {"Origin": "https://lab.example", "X-Forwarded-Host": "lab.example"}
        assert open_lab.post("/runs/new", data=FORM, headers=proxied).status_code == 403
        assert open_lab.post("/runs/new", data=FORM).status_code == 303  # no Origin: a script
        assert run_count(settings) == 2
        assert open_lab.get("/login").headers["location"] == "/"

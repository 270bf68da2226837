"""With MATCHLAB_API_TOKEN set: logout ends the session on the server, /login is throttled,
health says little to strangers, the docs need the token, no token ever lands in a URL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.http.auth import SESSION_COOKIE
from tests.app.pages.test_pages import input_value
from tests.security.test_auth import BEARER, FORM, TOKEN, app_with, csrf_of, log_in, run_count


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    with app_with(settings, api_token=TOKEN) as client:
        yield client


def test_logout_ends_the_session_on_the_server(guarded, settings):
    log_in(guarded)
    cookie = guarded.cookies[SESSION_COOKIE]
    csrf = csrf_of(guarded.get("/runs/new").text)
    assert guarded.post("/logout", data={"csrf_token": csrf}).status_code == 303
    # Someone who kept the old cookie and CSRF token (a shared machine, a stolen cookie):
    guarded.cookies.set(SESSION_COOKIE, cookie)
    assert guarded.post("/runs/new", data={**FORM, "csrf_token": csrf}).status_code == 403
    assert guarded.get("/runs/new").status_code == 303  # back to /login
    assert guarded.get("/api/runs").status_code == 401
    assert run_count(settings) == 0
    log_in(guarded)  # a new login works
    assert guarded.get("/runs/new").status_code == 200


def test_wrong_tokens_are_throttled_per_client_with_retry_after(settings):
    with app_with(settings, api_token=TOKEN, login_rate="5/minute") as client:
        for _ in range(5):
            assert client.post("/login", data={"token": "guess"}).status_code == 401
        throttled = client.post("/login", data={"token": "guess"})
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert "try again in" in throttled.text
        # Past the limit even the right token waits: guessing cannot go on at full speed.
        assert client.post("/login", data={"token": TOKEN}).status_code == 429
        assert SESSION_COOKIE not in client.cookies


def test_a_right_token_does_not_count_against_the_limit(settings):
    with app_with(settings, api_token=TOKEN, login_rate="2/minute") as client:
        for _ in range(5):
            client.cookies.clear()
            assert client.post("/login", data={"token": TOKEN}).status_code == 303


def test_health_without_the_token_says_only_the_status(guarded):
    bare = guarded.get("/api/health")
    assert bare.status_code in (200, 503)
    assert set(bare.json()) == {"status"}
    full = guarded.get("/api/health", headers=BEARER).json()
    assert {"database", "broker", "workers"} <= set(full)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_docs_need_the_token_when_one_is_set(guarded, settings, path):
    refused = guarded.get(path)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert guarded.get(path, headers=BEARER).status_code == 200
    log_in(guarded)
    assert guarded.get(path).status_code == 200
    with app_with(settings, api_token=TOKEN, public_reads=True) as public:
        assert public.get(path).status_code == 303  # public reads cover runs, not the API's map
    with app_with(settings) as open_lab:
        assert open_lab.get(path).status_code == 200


def test_a_non_ascii_csrf_token_is_a_403_not_a_500(guarded, settings):
    log_in(guarded)
    response = guarded.post("/runs/new", data={**FORM, "csrf_token": "é" * 64})
    assert response.status_code == 403
    assert guarded.post("/login", data={"token": "é"}).status_code == 401
    header = {"Authorization": "Bearer é".encode("latin-1")}
    bad_bearer = guarded.post("/api/runs", json={"algorithm": "fixmatch"}, headers=header)
    assert bad_bearer.status_code == 401
    assert run_count(settings) == 0


def test_preset_buttons_post_so_the_csrf_token_never_enters_a_url(guarded):
    log_in(guarded)
    html = guarded.get("/runs/new").text
    assert 'formmethod="get"' not in html
    buttons = re.findall(r'<button[^>]*name="preset"[^>]*>', html)
    assert buttons and all('formaction="/runs/new/redraw"' in b for b in buttons)
    form = {**FORM, "algorithm": "mixmatch", "preset": "tutorial", "csrf_token": csrf_of(html)}
    redrawn = guarded.post("/runs/new/redraw", data=form)
    assert redrawn.status_code == 200
    assert input_value(redrawn.text, "hparams.unlabeled_weight") == "75.0"  # tutorial's λu
    assert input_value(redrawn.text, "lr") == "0.002"
    assert guarded.post("/runs/new/redraw", data={**form, "csrf_token": "x"}).status_code == 403


def test_the_secure_cookie_flag_follows_the_setting(settings):
    for setting, expected in [(True, True), (False, False), (None, False)]:
        with app_with(settings, api_token=TOKEN, secure_cookies=setting) as client:
            cookie = client.post("/login", data={"token": TOKEN}).headers["set-cookie"].lower()
            assert ("secure" in cookie.split("; ")) is expected, setting

"""app/http/guard.py: Host names this server, state changes from other sites refused (API and
pages, token or not), security headers on every answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.http.guard import allowed_hosts, host_name
from app.main import create_app
from tests.security.test_auth import FORM, run_count


def lab(settings: Settings, **changes) -> TestClient:
    return TestClient(
        create_app(settings.model_copy(update=changes)),
        base_url="http://127.0.0.1:8000",
        follow_redirects=False,
    )


@pytest.fixture
def default_hosts(settings: Settings) -> TestClient:
    """The default list (loopback names + bind host), not the test suite's."""
    return lab(settings, allowed_hosts=None)


def test_the_default_hosts_are_loopback_plus_the_bind_host():
    assert allowed_hosts(None, "127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts(None, "0.0.0.0") == {"localhost", "127.0.0.1", "::1"}
    assert "lab.example" in allowed_hosts(None, "lab.example")
    assert allowed_hosts("lab.example, [::1]", "127.0.0.1") == {"lab.example", "::1"}
    assert allowed_hosts("*", "127.0.0.1") is None
    assert host_name("[::1]:8000") == "::1" and host_name("Evil.Example:80") == "evil.example"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
def test_a_rebound_dns_name_is_refused_on_every_path(default_hosts, settings, host):
    for method, path in [("GET", "/"), ("GET", "/api/runs"), ("GET", "/static/run.js"),
                         ("POST", "/api/runs"), ("GET", "/api/health")]:  # fmt: skip
        response = default_hosts.request(
            method, path, headers={"Host": host}, json={"algorithm": "fixmatch"}
        )
        assert response.status_code == 400, (method, path)
        detail = response.json()["detail"][0]
        assert detail["field"] == "host" and "MATCHLAB_ALLOWED_HOSTS" in detail["message"]
    assert run_count(settings) == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "localhost"])
def test_the_loopback_names_are_answered(default_hosts, host):
    assert default_hosts.get("/api/runs", headers={"Host": host}).status_code == 200


def test_an_extra_allowed_host_is_answered(settings):
    with lab(settings, allowed_hosts="lab.example") as client:
        assert client.get("/api/runs", headers={"Host": "lab.example"}).status_code == 200
        assert client.get("/api/runs", headers={"Host": "127.0.0.1"}).status_code == 400


CROSS_SITE = [
    {"Origin": "null"},
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:3000"},  # another program on this machine
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: f"{h}")
def test_state_changes_from_other_sites_are_refused_without_a_token(settings, headers):
    with lab(settings) as client:
        run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
        attempts = [
            ("POST", "/api/runs", {"json": {"algorithm": "fixmatch"}}),
            ("POST", f"/api/runs/{run_id}/cancel", {}),
            ("POST", f"/api/runs/{run_id}/retry", {}),
            ("DELETE", f"/api/runs/{run_id}", {}),
            ("POST", "/api/sweeps", {"json": {"name": "s", "base": {}, "grid": {"seed": [1]}}}),
            ("POST", "/runs/new", {"data": FORM}),
            ("POST", f"/runs/{run_id}/cancel", {"data": {}}),
        ]
        for method, path, body in attempts:
            response = client.request(method, path, headers=headers, **body)
            assert response.status_code == 403, (method, path)
            assert response.json()["detail"][0]["field"] == "origin"
        assert run_count(settings) == 1
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "queued"


def test_same_origin_and_scripts_still_change_state(settings):
    with lab(settings) as client:
        same = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
        assert (
            client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=same).status_code
            == 201
        )
        assert client.post("/runs/new", data=FORM, headers=same).status_code == 303
        typed = {"Sec-Fetch-Site": "none"}  # the user typed or bookmarked it
        assert (
            client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=typed).status_code
            == 201
        )
        assert client.post("/api/runs", json={"algorithm": "fixmatch"}).status_code == 201
        assert run_count(settings) == 4
        # Reads from anywhere are the browser's business (no CORS headers: it hides the answer).
        assert client.get("/api/runs", headers={"Origin": "http://evil.example"}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/", "/runs/new", "/api/runs", "/static/run.js", "/nope", "/docs"]
)
def test_every_answer_carries_the_security_headers(settings, path):
    with lab(settings) as client:
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        refused = client.post("/api/runs", headers={"Origin": "null"}).headers
        assert "frame-ancestors 'none'" in refused["content-security-policy"]


PROXIED = {"Origin": "https://lab.example", "X-Forwarded-Host": "lab.example"}


def test_a_client_sent_forwarded_host_is_ignored_without_a_trusted_proxy(settings):
    # The client's own X-Forwarded-Host naming the site it came from does not make it ours.
    with lab(settings) as client:
        response = client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=PROXIED)
        assert response.status_code == 403 and response.json()["detail"][0]["field"] == "origin"
        assert client.post("/runs/new", data=FORM, headers=PROXIED).status_code == 403
    # A proxy is configured, but this request came from elsewhere: still ignored.
    with TestClient(
        create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.5"})),
        base_url="http://127.0.0.1:8000", client=("192.0.2.7", 4000),
    ) as client:  # fmt: skip
        assert client.post("/api/runs", json={"algorithm": "x"}, headers=PROXIED).status_code == 403
    assert run_count(settings) == 0


@pytest.mark.parametrize("proxies", ["10.0.0.5", "10.0.0.0/24, 192.0.2.1", "fd00::/8,10.0.0.5/32"])
def test_a_trusted_proxy_s_forwarded_host_names_this_server(settings, proxies):
    with TestClient(
        create_app(settings.model_copy(update={"trusted_proxies": proxies})),
        base_url="http://127.0.0.1:8000", client=("10.0.0.5", 4000), follow_redirects=False,
    ) as client:  # fmt: skip
        response = client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=PROXIED)
        assert response.status_code == 201, response.text
        assert client.post("/runs/new", data=FORM, headers=PROXIED).status_code == 303
        other = {"Origin": "https://evil.example", "X-Forwarded-Host": "lab.example"}
        assert (
            client.post("/api/runs", json={"algorithm": "fixmatch"}, headers=other).status_code
            == 403
        )
    assert run_count(settings) == 2


def test_a_bad_trusted_proxy_is_an_error_naming_it(settings):
    with pytest.raises(ValueError, match="MATCHLAB_TRUSTED_PROXIES: 'lab.example'"):
        create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.5, lab.example"}))

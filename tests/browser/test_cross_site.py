"""A page on another site, in a real Chromium, tries to act on a running matchlab (no token):
a form post, a sandboxed (Origin: null) form post, a no-cors fetch to cancel and to retry, and a
DNS-rebound name for this server. The server refuses each, and nothing changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
import redis
from playwright.sync_api import Browser

from tests.browser.conftest import CHROMIUM_ARGS
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.browser

REBOUND = "rebound.example"


@pytest.fixture(scope="module")
def web_only(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path_factory.mktemp("cross-site-home"), redis_url)
    try:
        stack.start_web()  # no worker: the runs stay queued, so a cancel would show
        yield stack
    finally:
        stack.stop()


def evil_page(target: str, run_id: int) -> str:
    form = (
        f'<form method="post" action="{target}/runs/new" target="{{frame}}">'
        '<input name="algorithm" value="fixmatch"><input name="shown_algorithm" value="fixmatch">'
        '<input name="name" value="planted"></form>'
    )
    return f"""<!doctype html><body>
<iframe name="plain"></iframe>
{form.format(frame="plain").replace("<form", '<form id="plain-form"')}
<script>
  document.getElementById("plain-form").submit();
  for (const action of ["cancel", "retry"]) {{
    fetch("{target}/api/runs/{run_id}/" + action, {{method: "POST", mode: "no-cors"}});
  }}
  fetch("{target}/api/runs", {{method: "POST", mode: "no-cors", body: '{{"algorithm": "fixmatch"}}',
        headers: {{"Content-Type": "text/plain"}}}});
</script></body>"""


def serve(html: str) -> ThreadingHTTPServer:
    """Another site: a plain HTTP server on another port of this machine, named ``localhost``
    (another origin and another site than ``127.0.0.1``; a real server, so Chromium's rules
    for public pages reaching private addresses do not hide what the matchlab server does)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_another_site_cannot_start_or_cancel_runs(web_only: Stack, browser: Browser):
    run_id = web_only.client.submit(tiny_spec(name="mine"))["id"]
    other = serve(evil_page(web_only.url, run_id))
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    answered: list[tuple[str, int]] = []
    context.on(
        "response",
        lambda r: answered.append((r.url, r.status)) if r.url.startswith(web_only.url) else None,
    )
    page.goto(f"http://localhost:{other.server_address[1]}/")
    # Every attempt reached the server (so the refusal is the server's, not the browser's).
    deadline = time.monotonic() + 180  # generous: a loaded machine starts frames slowly
    while len(answered) < 4 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    # An opaque origin (a data: page, as a sandboxed frame would be) sends Origin: null.
    origins: list[str | None] = []
    page.on(
        "request", lambda r: origins.append(r.headers.get("origin")) if r.method == "POST" else None
    )
    opaque = evil_page(web_only.url, run_id).split("<script>")[0].replace('target="plain"', "")
    with page.expect_response(f"{web_only.url}/runs/new") as refused:
        page.goto("data:text/html," + quote(opaque + "<script>document.forms[0].submit()</script>"))
    assert refused.value.status == 403 and origins == ["null"]
    paths = {url.removeprefix(web_only.url) for url, _ in answered}
    assert {
        "/runs/new",
        f"/api/runs/{run_id}/cancel",
        f"/api/runs/{run_id}/retry",
        "/api/runs",
    } <= paths
    assert len(answered) >= 5 and {status for _, status in answered} == {403}, answered
    # (The refusal page cannot even be shown in the other site's frame: frame-ancestors 'none'.)
    context.close()
    other.shutdown()

    runs = web_only.client.runs()["items"]
    assert [(r["id"], r["status"]) for r in runs] == [(run_id, "queued")]


def test_a_rebound_dns_name_gets_nothing(web_only: Stack, browser: Browser):
    port = web_only.url.rsplit(":", 1)[1]
    with_rebinding = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
    instance = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=with_rebinding)
    try:
        page = instance.new_page()
        response = page.goto(f"http://{REBOUND}:{port}/api/runs")
        assert response is not None and response.status == 400
        assert "MATCHLAB_ALLOWED_HOSTS" in page.content()
        # The same server answers under its own name (so the 400 is the host check's).
        assert page.goto(f"{web_only.url}/api/runs").status == 200
    finally:
        instance.close()

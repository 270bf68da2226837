"""``matchlab web`` listens on 127.0.0.1 unless told otherwise (``--host``)."""

from __future__ import annotations

import psutil

from tests.e2e.conftest import Stack


def test_the_web_server_listens_on_localhost_only(web_stack: Stack):
    (web,) = [p for p in web_stack.processes if "web" in p.args]
    # uvicorn may serve from the process itself or a child; look at the whole tree.
    tree = [psutil.Process(web.pid), *psutil.Process(web.pid).children(recursive=True)]
    listening = [
        c.laddr for p in tree for c in p.net_connections(kind="inet") if c.status == "LISTEN"
    ]
    assert listening, "the web server listens nowhere"
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening
    assert {address.port for address in listening} == {web_stack.port}

"""The example plugin, pip-installed, trains through a real worker and shows on compare."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.conftest import Stack, tiny_spec
from tests.plugin_support import env_with, install_example_plugin

pytestmark = pytest.mark.e2e


@pytest.fixture
def plugin_stack(tmp_path: Path, redis_url: str) -> Iterator[Stack]:
    """Web server and worker both started with the plugin installed on their path."""
    redis.Redis.from_url(redis_url).flushdb()
    target = install_example_plugin(tmp_path / "plugin" / "site")
    home = tmp_path / "home"
    home.mkdir()
    stack = Stack(home, redis_url)
    stack.env["PYTHONPATH"] = env_with(target)["PYTHONPATH"]
    stack.start_web()
    yield stack
    stack.stop()


def test_plugin_run_trains_in_the_worker_and_compares_with_a_builtin(plugin_stack: Stack):
    stack = plugin_stack
    stack.start_worker()
    plugin = stack.client.submit(tiny_spec(algorithm="pseudolabel_plus", uratio=None))["id"]
    builtin = stack.client.submit(tiny_spec(algorithm="supervised", uratio=None))["id"]
    for run_id in (plugin, builtin):
        run = stack.client.wait(run_id, timeout=180, poll=0.5)
        assert run["status"] == "succeeded", (run["error"], stack.logs())
    assert stack.client.get(plugin)["spec"]["uratio"] == 2  # the plugin's default μ

    data = stack.client.compare([plugin, builtin], keys=["val/top1", "train/mask_ratio"])
    assert "pseudolabel_plus" in str(data) and "supervised" in str(data)
    page = stack.client.http.get("/compare", params={"runs": f"{plugin},{builtin}"})
    assert page.status_code == 200
    assert "pseudolabel_plus" in page.text or "Pseudo-Label+" in page.text
    css = stack.client.http.get("/static/algorithms.css").text
    assert "--c-pseudolabel_plus: #7b2cbf;" in css

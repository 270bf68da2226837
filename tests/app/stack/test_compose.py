"""docker-compose.yml is valid and has the shape DESIGN.md describes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    pytest.skip("neither docker-compose nor the docker compose plugin is installed")


def test_compose_file_is_valid_with_healthchecked_redis_and_a_gpu_worker():
    result = subprocess.run(
        [*compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config = result.stdout
    for expected in ("redis:", "web:", "worker:", "healthcheck:", "service_healthy", "gpu"):
        assert expected in config, expected
    assert config.count("matchlab-home:/matchlab") == 2  # web and worker share the volume

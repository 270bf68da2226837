"""A server says at start what would otherwise leave it open without a word: a misspelled
``MATCHLAB_*`` setting (``MATCHLAB_TOKEN`` for ``MATCHLAB_API_TOKEN``), and a bind beyond
loopback without a token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import NOT_SETTINGS, Settings, unknown_variables_warning
from app.stack.redis_server import free_port
from matchlab.cli import bind_warning

ROOT = Path(__file__).resolve().parents[2]


def start_web(tmp_path: Path, host: str, **env: str) -> list[str]:
    """``matchlab web``'s stderr up to the moment it serves (then it is stopped)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MATCHLAB_")}
    environment = {**clean, "MATCHLAB_HOME": str(tmp_path), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "matchlab.cli", "web", "--host", host, "--port", str(free_port())],
        env=environment, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert any("startup complete" in x or "Uvicorn running" in x for x in lines), lines
    return lines


def test_a_misspelled_token_and_an_open_bind_are_warned_about(tmp_path):
    lines = start_web(tmp_path, "0.0.0.0", MATCHLAB_TOKEN="secret", MATCHLAB_REDIS_URLL="x")
    unknown = [line for line in lines if "unknown setting" in line]
    assert len(unknown) == 1, lines  # one warning naming them all
    assert "MATCHLAB_TOKEN (did you mean MATCHLAB_API_TOKEN?)" in unknown[0]
    assert "MATCHLAB_REDIS_URLL (did you mean MATCHLAB_REDIS_URL?)" in unknown[0]
    assert any("0.0.0.0 without MATCHLAB_API_TOKEN" in line for line in lines), lines


def test_a_proper_start_warns_about_nothing(tmp_path):
    lines = start_web(tmp_path, "127.0.0.1", MATCHLAB_API_TOKEN="secret", MATCHLAB_CHROMIUM="/x")
    assert not [line for line in lines if "warning" in line.lower()], lines
    # A token set: even every address is no warning (the login guards it).
    assert bind_warning("0.0.0.0", "secret") is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_binds_need_no_token(host):
    assert bind_warning(host, None) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "lab.example"])
def test_other_binds_without_a_token_are_warned_about(host):
    assert "without MATCHLAB_API_TOKEN" in bind_warning(host, None)


def test_every_matchlab_variable_the_repository_names_is_a_setting_or_allowed():
    known = {"MATCHLAB_" + name.upper() for name in Settings.model_fields}
    named = set()
    for path in [
        *ROOT.glob("**/*.py"),
        *ROOT.glob("**/*.sh"),
        *ROOT.glob("*.yml"),
        ROOT / "Makefile",
    ]:
        ours = path == Path(__file__).resolve()  # this file's misspellings are on purpose
        if path.is_file() and not ours and not {".venv", ".git"} & set(path.parts):
            named |= set(re.findall(r"\bMATCHLAB_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert named - known - NOT_SETTINGS == set()
    assert unknown_variables_warning({name: "1" for name in named}) is None
    assert unknown_variables_warning({"MATCHLAB_ZZZ": "1"}) == (
        "warning: ignoring unknown setting MATCHLAB_ZZZ; the settings are in the README's "
        "Configuration table"
    )

"""Install the example plugin (examples/matchlab-pseudolabel-plus) the way a user would: pip,
into a folder of its own that a child process puts on its path. Its entry point is real
package metadata there, found by importlib.metadata — nothing in matchlab is patched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "matchlab-pseudolabel-plus"


def install_example_plugin(target: Path, replaced: dict[str, str] | None = None) -> Path:
    """``pip install`` the example into ``target`` (offline, no dependencies); returns it.
    ``replaced``: file paths inside the example → the text to install in their place."""
    source = target.parent / "source"
    # Building writes build/ and *.egg-info next to the code: a copy, without any old ones.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    for relative, text in (replaced or {}).items():
        (source / relative).write_text(text)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True,
    )  # fmt: skip
    return target


def env_with(target: Path) -> dict[str, str]:
    """The environment of a process that has the plugin installed (and this checkout first)."""
    path = [str(ROOT), str(target), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}

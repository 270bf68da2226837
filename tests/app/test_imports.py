"""The web app never imports torch: every app module imports in a fresh interpreter without it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import app


def test_importing_every_app_module_leaves_torch_out():
    modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.")]
    assert {"app.main", "app.cli", "app.client", "app.api.runs"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not leaked, leaked[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_worker_modules_import_without_torch_until_training():
    code = (
        "import sys, worker.tasks, worker.runner, worker.recovery\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]

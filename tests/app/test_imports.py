"""The web app never imports torch: every app module imports in a fresh interpreter without it."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import app


def test_importing_every_app_module_leaves_torch_out():
    modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.")]
    assert {"app.main", "app.client", "app.api.runs"} <= set(modules)
    modules.append("matchlab.cli")  # the command: ``matchlab submit`` must not load torch
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


def test_the_web_app_never_imports_the_worker():
    """The composition root (``matchlab.cli``) joins web and worker; ``app`` stays below it.
    Every import counts, also those inside functions."""
    root = Path(app.__file__).resolve().parent
    offenders = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                else []
            )
            bad = [n for n in names if n.split(".")[0] in ("worker", "matchlab")]
            if bad:
                offenders.setdefault(str(path.relative_to(root)), []).extend(bad)
    assert offenders == {}

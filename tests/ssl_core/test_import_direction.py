"""Dependencies point one way: ssl_core ← worker → app; app never imports torch."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_ssl_core_imports_neither_app_nor_worker():
    assert not _imports("ssl_core") & {"app", "worker"}


def test_app_does_not_import_torch():
    modules = [f"app.{p.stem}" for p in (ROOT / "app").glob("*.py") if p.stem != "__init__"]
    modules += [f"app.api.{p.stem}" for p in (ROOT / "app" / "api").glob("*.py")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "import ssl_core.spec\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

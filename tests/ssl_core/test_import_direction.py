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
        "import ssl_core.contract.spec\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _ssl_core_imports(package: str) -> dict[str, set[str]]:
    """``{file: the ssl_core modules it imports}`` for every file of ``package``."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names if a.name.split(".")[0] == "ssl_core")
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "ssl_core":
                    names.update(f"ssl_core.{a.name}" for a in node.names)
                elif node.module.startswith("ssl_core."):
                    names.add(node.module)
        if names:
            found[str(path.relative_to(ROOT))] = names
    return found


def test_the_web_app_imports_only_the_contract_from_ssl_core():
    found = _ssl_core_imports("app")
    assert found, "the scan sees app's imports of ssl_core"
    outside = {
        path: sorted(n for n in names if not n.startswith("ssl_core.contract"))
        for path, names in found.items()
    }
    assert {path: names for path, names in outside.items() if names} == {}


def test_the_contract_imports_no_torch_and_nothing_outside_itself():
    code = (
        "import importlib, pkgutil, sys\n"
        "import ssl_core.contract as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'ssl_core.contract.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    own = _ssl_core_imports("ssl_core/contract")
    assert all(n.startswith("ssl_core.contract") for names in own.values() for n in names), own


def test_the_library_api_keeps_its_old_module_names():
    # docs/CONTRACTS.md names ssl_core.spec.RunSpec, ssl_core.callbacks.Callback, ...; plugins
    # import ssl_core.catalog and ssl_core.hparams.
    import ssl_core.callbacks
    import ssl_core.catalog
    import ssl_core.spec
    from ssl_core.errors import TrainingDiverged
    from ssl_core.spec import RunSpec

    import ssl_core.contract.spec

    assert ssl_core.spec is ssl_core.contract.spec
    assert RunSpec is ssl_core.contract.spec.RunSpec
    assert TrainingDiverged.__module__ == "ssl_core.contract.errors"
    assert ssl_core.catalog.CATALOG is ssl_core.contract.catalog.CATALOG
    assert hasattr(ssl_core.callbacks, "TrainingCallback")

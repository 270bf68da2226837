"""ssl_core: semi-supervised image classification in plain PyTorch.

``ssl_core.contract`` is torch-free; ``train`` imports torch on first use so the web app can
validate specs without it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssl_core.trainer import train

__all__ = ["train"]

# The library API names ``ssl_core.spec.RunSpec``, ``ssl_core.callbacks.Callback``,
# ``ssl_core.errors.TrainingDiverged`` (docs/CONTRACTS.md) and plugins import
# ``ssl_core.catalog`` / ``ssl_core.hparams``: those modules now live in ``ssl_core.contract``
# and stay importable under their old names as the very same module objects (no copies, so
# ``isinstance`` and monkeypatching see one thing).
MOVED = ("callbacks", "catalog", "errors", "hparams", "metrics", "references", "settings",
         "spec", "summary")  # fmt: skip


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(f"{__name__}.contract.{spec.name.rpartition('.')[2]}")

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its contract name


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())


def __getattr__(name: str) -> Any:
    if name == "train":
        from ssl_core.trainer import train

        return train
    raise AttributeError(f"module 'ssl_core' has no attribute {name!r}")

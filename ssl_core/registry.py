"""The torch side of the catalog: name → algorithm class, net builder, dataset loader.

``ssl_core.contract.catalog`` names everything (torch-free); this module imports an entry's implementation
only when a run needs it. An unknown name is a ``KeyError`` that lists the valid names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ssl_core.contract import catalog


def algorithm_class(name: str) -> type:
    return catalog.load_object(catalog.algorithm(name).implementation)


def net_builder(name: str) -> Callable[..., Any]:
    return catalog.load_object(catalog.net(name).builder)


def dataset_loader(name: str) -> Callable[..., Any]:
    return catalog.load_object(catalog.dataset(name).loader)

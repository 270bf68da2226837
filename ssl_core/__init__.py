"""ssl_core: semi-supervised image classification in plain PyTorch.

``ssl_core.spec`` is torch-free; ``train`` imports torch on first use so the web app can validate
specs without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssl_core.trainer import train

__all__ = ["train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from ssl_core.trainer import train

        return train
    raise AttributeError(f"module 'ssl_core' has no attribute {name!r}")

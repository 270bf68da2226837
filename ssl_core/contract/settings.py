"""The settings ssl_core itself needs: where matchlab's home and datasets are.

The app's one settings object (``app.config.Settings``) extends this class, so ``matchlab
train``, a notebook and the worker resolve the data folder by the same rule:
``MATCHLAB_DATA_DIR``, else ``data/`` under ``MATCHLAB_HOME`` (default ``~/.matchlab``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    """Read from ``MATCHLAB_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MATCHLAB_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".matchlab",
        description="runs, checkpoints and the default SQLite database live here",
    )
    data_dir: Path | None = Field(None, description="datasets; default: data/ under home")

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir or self.home / "data"

"""Dotted field names over nested spec dicts: ``hparams.threshold`` ↔ ``{"hparams": {...}}``.

Torch-free and model-free, so the spec, the forms and the filters share one reading.
"""

from __future__ import annotations

from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, group by group (neither is changed)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def set_dotted(values: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``values`` with ``a.b.c`` set; ``hparams.x`` reaches an algorithm field."""
    out = deep_merge({}, values)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"{key}: {part} is not a group of fields")
    node[parts[-1]] = value
    return out


def flatten_spec(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"hparams": {"threshold": 0.9}}`` → ``{"hparams.threshold": 0.9}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            flat.update(flatten_spec(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat

"""Checks on text before it is stored or searched: no NUL characters (PostgreSQL cannot store
them), and user text inside a ``LIKE`` pattern matching itself."""

from __future__ import annotations

from app.store.errors import InvalidInput


def reject_nul(value: object, field: str) -> None:
    """NUL characters anywhere in ``value`` (strings, nested lists and objects): ``InvalidInput``
    naming where. PostgreSQL cannot store them and no name or note needs one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput([{"field": field, "message": "must not contain NUL characters"}])
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key, field)
            reject_nul(item, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            reject_nul(item, f"{field}.{i}")


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for ``LIKE … ESCAPE '\\'``: ``%`` and ``_`` in what the
    user typed match themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"

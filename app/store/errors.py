"""What the store raises for a caller to answer: 422, 409 and 404 in HTTP terms; and how to
tell a store that cannot be written (507 / 503) from any other failure."""

from __future__ import annotations

import errno


class InvalidInput(ValueError):
    """Input a user can fix; ``errors`` is ``[{"field": ..., "message": ...}]``."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class Conflict(RuntimeError):
    """The request does not fit the run's current status (HTTP 409)."""


class NotFound(LookupError):
    """No such run or sweep (HTTP 404); the message names what was looked for."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


# What a full or read-only store says, whoever says it: the kernel (errno), SQLite, PostgreSQL.
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_WORDS = ("database or disk is full", "no space left on device", "could not extend file")
_READ_ONLY_WORDS = ("readonly database", "read-only file system", "read-only transaction")


def storage_problem(exc: BaseException) -> str | None:
    """``"disk full"``, ``"read-only"`` or None: whether ``exc`` (or what caused it) is the store
    refusing writes, which no retry of the same request can fix until someone acts."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return "disk full"
        if isinstance(exc, OSError) and exc.errno == errno.EROFS:
            return "read-only"
        text = str(exc).lower()
        if any(words in text for words in _FULL_WORDS):
            return "disk full"
        if any(words in text for words in _READ_ONLY_WORDS):
            return "read-only"
        exc = exc.__cause__ or exc.__context__
    return None

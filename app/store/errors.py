"""What the store raises for a caller to answer: 422, 409 and 404 in HTTP terms."""

from __future__ import annotations


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

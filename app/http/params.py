"""One parser for every number that arrives as text: path, query, header, cookie or form.

Only ASCII digits count (``"²".isdigit()`` is true and ``int("²")`` fails), at most 10 of them,
and the value must lie in its range (a database id fits PostgreSQL's 32-bit INTEGER). Anything
else is ``InvalidInput``, which the API and the pages answer with a 422 naming the field.
``Id`` is the same rule for what pydantic reads (path, query and body ids).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.store.errors import InvalidInput
from app.store.models import MAX_ID

MAX_DIGITS = len(str(MAX_ID))
ID_RANGE = f"a whole number from 1 to {MAX_ID}"


def _in_id_range(value: int) -> int:
    if not 1 <= value <= MAX_ID:
        shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:20]}…"
        raise PydanticCustomError(
            "id_range",
            "out of range: {shown} (an id is {valid})",
            {"shown": shown, "valid": ID_RANGE},
        )
    return value


# Every id pydantic reads: runs and sweeps in paths, ``?sweep=``, ``ids`` in bodies.
Id = Annotated[
    int,
    AfterValidator(_in_id_range),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
]


def is_whole_number(text: str) -> bool:
    """ASCII digits only, no sign, no more digits than an id has."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS


def parse_int(
    text: str, field: str, low: int = 0, high: int = MAX_ID, what: str = "a whole number"
) -> int:
    """``text`` as an int in ``[low, high]``, or ``InvalidInput`` naming ``field``."""
    text = text.strip()
    if is_whole_number(text) and low <= int(text) <= high:
        return int(text)
    shown = text if len(text) <= 20 else f"{text[:20]}… ({len(text)} characters)"
    raise InvalidInput(
        [
            {
                "field": field,
                "message": f"not {what}: {shown!r} (a whole number from {low} to {high})",
            }
        ]
    )


def parse_id(text: str, field: str, what: str = "an id") -> int:
    """A database id: 1 … 2^31 − 1."""
    return parse_int(text, field, 1, MAX_ID, what)


def parse_ids(text: str, field: str) -> list[int]:
    """Comma-separated run ids (blanks skipped), each checked as ``parse_id``."""
    return [parse_id(part, field, "a run id") for part in text.split(",") if part.strip()]


def parse_run_ids(runs: str | None) -> list[int]:
    """``?runs=3,1,3`` → ``[3, 1]``: each a ``parse_id``, repeats dropped, order kept."""
    return list(dict.fromkeys(parse_ids(runs or "", "runs")))


def split_keys(keys: str | None) -> list[str] | None:
    """``"val/top1, test/top1"`` → the keys; None when none are named."""
    items = [k.strip() for k in (keys or "").split(",") if k.strip()]
    return items or None

"""A spec's validation errors in words: one ``{"field", "message"}`` per problem.

The API answers them as its 422 body, the form shows them beside their fields and the CLI and
the worker print them one per line.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ssl_core.contract.catalog import ALGORITHMS
from ssl_core.contract.spec import PARAMS_BY_ALGORITHM, RunSpec


def error_messages(error: ValidationError | ValueError) -> list[dict[str, str]]:
    """Turn a validation error into ``[{"field": "hparams.threshold", "message": ...}]``."""
    if not isinstance(error, ValidationError):
        text = str(error)
        field, _, message = text.partition(": ")
        return [{"field": field if message else "", "message": message or text}]
    out = []
    for item in error.errors(include_url=False):
        if item["type"] in ("missing", "union_tag_invalid") and tuple(item["loc"]) == ("hparams",):
            continue  # only when `algorithm` is missing or unknown, which is reported already
        # Drop the discriminator tag pydantic puts in union locations (hparams.mixmatch.x).
        loc = [str(p) for p in item["loc"] if str(p) not in ALGORITHMS]
        message = item["msg"].removeprefix("Value error, ")
        field = ".".join(loc)
        if item["type"] == "extra_forbidden":
            parent = loc[:-1]
            valid = _valid_fields(parent, item)
            message = f"unknown field; valid fields here: {', '.join(valid)}"
        elif not loc and ": " in message:
            field, _, message = message.partition(": ")
        elif item["type"] == "literal_error" and item.get("ctx", {}).get("expected"):
            message = f"must be one of {item['ctx']['expected']}; got {item['input']!r}"
        out.append({"field": field, "message": message})
    return out


def _valid_fields(parent: list[str], item: dict[str, Any]) -> list[str]:
    if parent == ["hparams"]:
        for model in PARAMS_BY_ALGORITHM.values():
            if item["loc"][1:2] and item["loc"][1] == model.model_fields["algorithm"].default:
                return [f for f in model.model_fields if f != "algorithm"]
    return [f for f in RunSpec.model_fields]


def format_errors(error: ValidationError | ValueError) -> str:
    """One line per problem: ``field: message``."""
    return "\n".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"]
        for e in error_messages(error)
    )

"""The run and sweep forms: which inputs to draw, and form text → spec values.

Everything is derived from ``ssl_core.contract.spec`` (its fields, their types, defaults and
descriptions), so the form, the API and the CLI validate with the same models; this module only
groups the fields and converts strings.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic.fields import FieldInfo

from ssl_core.contract.catalog import DATASETS
from ssl_core.contract.presets import preset_fields
from ssl_core.contract.spec import (
    PARAMS_BY_ALGORITHM,
    RunSpec,
    build_spec,
    default_weak_augment,
    field_docs,
)

# Shown in this order, in these groups; every other RunSpec field (hparams) comes from field_docs.
SECTIONS: list[tuple[str, list[str]]] = [
    ("Run", ["name", "algorithm", "dataset", "num_labels", "seed", "notes"]),
    ("Schedule", ["epochs", "iters_per_epoch", "batch_size", "uratio", "eval_batch_size"]),
    (
        "Optimisation",
        [
            "optimizer",
            "lr",
            "lr_schedule",
            "momentum",
            "nesterov",
            "weight_decay",
            "decay_all_params",
            "ema_decay",
        ],
    ),
    (
        "Data and model",
        [
            "weak_augment",
            "strong_augment",
            "net",
            "bn_momentum",
            "num_val_per_class",
            "val_split",
            "device",
            "precision",
            "compile",
        ],
    ),
]
# RunSpec fields the general sections leave out on purpose, and why.
HIDDEN = {"hparams": "drawn as the algorithm's own section, one input per hyperparameter"}
# A RunSpec field that no section names (a new one) still gets an input, in this section.
OTHER = "More"
# Defaults that depend on the dataset or algorithm: blank means "let the spec choose".
AUTO_FIELDS = {"net", "num_val_per_class", "uratio", "lr", "ema_decay", "bn_momentum"}
# Sized to the run's length when blank (ssl_core/contract/horizons.py): a value typed or kept
# from a preset built for other epochs would not follow a change of the run's length.
AUTO_FIELDS |= {"hparams.ema_momentum", "hparams.alignment_momentum", "hparams.rampup_iters"}


@dataclass
class Input:
    """One form input: its name (a dotted spec key), widget and help text."""

    name: str
    label: str
    kind: str  # text | number | textarea | select | checks
    help: str
    choices: list[str]
    optional: bool
    default: Any
    step: str = ""  # number inputs: "1" for integers, "any" for reals
    low: Any = None  # number inputs: the inclusive bounds the spec allows, where it has them
    high: Any = None


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """``X | None`` → (X, True, constraints); the constraints of Annotated layers are kept."""
    optional = False
    metadata: list[Any] = []
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
    return annotation, optional, metadata


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _range(constraints: list[Any]) -> str:
    bounds = {}
    for item in constraints:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds[sign] = getattr(item, attr)
            for inner in getattr(item, "metadata", []):  # a Field(...) inside Annotated
                if getattr(inner, attr, None) is not None:
                    bounds[sign] = getattr(inner, attr)
    low = next((f"{s} {_number(bounds[s])}" for s in ("≥", ">") if s in bounds), "")
    high = next((f"{s} {_number(bounds[s])}" for s in ("≤", "<") if s in bounds), "")
    return ", ".join(b for b in (low, high) if b)


def make_input(name: str, field: FieldInfo, description: str | None = None) -> Input:
    annotation, optional, constraints = _unwrap(field.annotation)
    origin = typing.get_origin(annotation)
    kind, choices = "text", []
    if origin is typing.Literal:
        kind, choices = "select", [str(c) for c in typing.get_args(annotation)]
    elif annotation is bool:
        kind, choices = "select", ["true", "false"]
    elif origin is list:
        kind, choices = "checks", [str(c) for c in typing.get_args(typing.get_args(annotation)[0])]
    elif name == "notes":
        kind = "textarea"
    elif annotation in (int, float):
        kind = "number"
    type_name = {int: "integer", float: "number"}.get(annotation, "")
    facts = [f for f in (type_name, _range([*field.metadata, *constraints])) if f]
    if name in AUTO_FIELDS:
        facts.append("blank: chosen for the dataset and algorithm")
    elif optional and kind in ("text", "number") and name not in ("name", "notes"):
        facts.append("blank: none")
    text = description if description is not None else field.description or ""
    help_text = "; ".join(p for p in (text, ", ".join(facts[:2]), *facts[2:]) if p)
    default = field.get_default(call_default_factory=True)
    label = name.removeprefix("hparams.").replace("_", " ")
    step = {int: "1", float: "any"}.get(annotation, "")
    low, high = _bounds([*field.metadata, *constraints])
    return Input(name, label, kind, help_text, choices, optional, default, step, low, high)


def _bounds(constraints: list[Any]) -> tuple[Any, Any]:
    """The inclusive (ge, le) bounds, for a number input's min and max."""
    low = high = None
    for item in constraints:
        for inner in [item, *getattr(item, "metadata", [])]:
            low = getattr(inner, "ge", None) if getattr(inner, "ge", None) is not None else low
            high = getattr(inner, "le", None) if getattr(inner, "le", None) is not None else high
    return low, high


def spec_sections(spec_model: type[RunSpec] = RunSpec) -> list[tuple[str, list[str]]]:
    """SECTIONS, then every other field of the spec (but the HIDDEN ones) in its own section:
    the form follows the spec, SECTIONS only orders and groups it."""
    listed = {name for _, names in SECTIONS for name in names}
    rest = [n for n in spec_model.model_fields if n not in listed and n not in HIDDEN]
    return [*SECTIONS, (OTHER, rest)] if rest else list(SECTIONS)


def run_inputs(
    algorithm: str, spec_model: type[RunSpec] = RunSpec
) -> list[tuple[str, list[Input]]]:
    """The form's sections: the general fields, then this algorithm's hyperparameters."""
    fields = spec_model.model_fields
    sections = [
        (title, [make_input(n, fields[n]) for n in names if n in fields])
        for title, names in spec_sections(spec_model)
    ]
    model_fields = PARAMS_BY_ALGORITHM[algorithm].model_fields
    hparams = [
        make_input(f"hparams.{doc['name']}", model_fields[doc["name"]], doc["description"])
        for doc in field_docs(algorithm)
    ]
    if hparams:
        sections.append((f"{algorithm} hyperparameters", hparams))
    return sections


def as_text(value: Any) -> str | list[str]:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def default_state(algorithm: str, dataset: str | None = None) -> dict[str, Any]:
    """What an untouched form shows: every default, as text (the weak augmentation the
    dataset's: no flip on digits or SVHN)."""
    state: dict[str, Any] = {}
    for _, inputs in run_inputs(algorithm):
        for item in inputs:
            auto = item.name in AUTO_FIELDS or item.name == "algorithm"
            state[item.name] = "" if auto else as_text(item.default)
    state["algorithm"] = algorithm
    if dataset not in DATASETS:
        dataset = state["dataset"]
    state["dataset"] = dataset
    state["weak_augment"] = default_weak_augment(dataset)
    return state


def form_state(form: Mapping[str, Any], getlist: Any, algorithm: str) -> dict[str, Any]:
    """The typed values, over the defaults of ``algorithm``. Dropped as typed for what the form
    showed before the user switched: hyperparameters of another algorithm, and the weak
    augmentation ticked for another dataset (the new dataset's default is ticked instead)."""
    dataset = form.get("dataset")
    state = default_state(algorithm, dataset if isinstance(dataset, str) else None)
    same = form.get("shown_algorithm", algorithm) == algorithm
    same_data = form.get("shown_dataset", state["dataset"]) == state["dataset"]
    for _, inputs in run_inputs(algorithm):
        for item in inputs:
            if item.name.startswith("hparams.") and not same:
                continue
            if item.name == "weak_augment" and not same_data:
                continue
            if item.kind == "checks":
                if f"{item.name}.shown" in form:  # unticking every box is a choice too
                    state[item.name] = getlist(item.name)
            elif item.name in form:
                state[item.name] = str(form[item.name])
    return state


def spec_values(state: Mapping[str, Any]) -> dict[str, Any]:
    """Form text → the values dict for ``build_spec``; pydantic does the type conversion, so a
    bad number gets the same message here as through the API."""
    values: dict[str, Any] = {}
    hparams: dict[str, Any] = {}
    for _, inputs in run_inputs(state["algorithm"]):
        for item in inputs:
            raw = state.get(item.name)
            if isinstance(raw, str):
                raw = raw.strip()
                if raw == "" and (item.optional or item.name in AUTO_FIELDS):
                    raw = None
                    if item.name in AUTO_FIELDS or item.name in ("name", "notes"):
                        continue
            target = hparams if item.name.startswith("hparams.") else values
            target[item.name.removeprefix("hparams.")] = raw
    values["hparams"] = hparams
    return values


def preset_state(state: dict[str, Any], preset: str) -> tuple[dict[str, Any], str | None]:
    """The form with ``preset`` applied over what was typed; or an error message."""
    try:
        base = {k: state[k] for k in ("algorithm", "dataset") if state.get(k)}
        spec = build_spec(base, preset).to_json_dict()
    except ValueError as exc:
        return state, str(exc)
    flat = {k: v for k, v in spec.items() if k != "hparams"}
    flat.update({f"hparams.{k}": v for k, v in spec["hparams"].items()})
    # Fields left to the dataset and algorithm stay blank, unless the preset names them itself
    # (the paper's EMA 0.999 and SGD 0.03, the tutorial's Adam 0.002).
    named = preset_fields(preset)
    out = dict(state)
    for key, value in flat.items():
        if key not in out or key in ("name", "notes", "seed"):
            continue
        if key not in AUTO_FIELDS or key in named:
            out[key] = as_text(value)
    return out, None


# ---- sweeps ----
LIST_FIELDS = {
    name
    for name, field in RunSpec.model_fields.items()
    if typing.get_origin(_unwrap(field.annotation)[0]) is list
}


def parse_scalar(text: str) -> Any:
    """``0.5`` → 0.5, ``true`` → True, ``null`` → None, anything else stays a string."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        return text
    return value if isinstance(value, (int, float, bool, str)) or value is None else text


def parse_values(key: str, text: str) -> list[Any]:
    """Comma-separated values; a list field takes ``crop+flip`` per value (``none`` = empty)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if key in LIST_FIELDS:
        return [[] if p in ("none", "[]") else [t.strip() for t in p.split("+")] for p in parts]
    return [parse_scalar(p) for p in parts]


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            if not part.isdigit():
                raise ValueError(f"seeds: not a whole number: {part!r}")
            seeds.append(int(part))
    return seeds

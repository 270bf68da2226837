"""Atomic checkpoint files, loaded with ``weights_only=True`` (no pickled code runs on load),
and resumed only by the run that wrote them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ssl_core.contract.errors import CheckpointMismatch
from ssl_core.contract.spec import RunSpec


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file, fsync, then rename: a crash never leaves half a checkpoint,
    and a failed write (a full disk) removes its temporary file, so the failure itself can
    still be recorded and the previous checkpoint stays."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


# Fields a resumed run may change: the labels a user edits after launch (app/store/edits.py)
# and `compile`, which changes how the steps run but not what they compute (tests/ssl_core/
# test_compile.py resumes across it). Everything else must match.
FREE_ON_RESUME = frozenset({"name", "notes", "compile"})


def training_fields(spec: RunSpec) -> dict[str, Any]:
    """The spec without the free fields: what must match for a checkpoint to be this run's."""
    return {k: v for k, v in spec.to_json_dict().items() if k not in FREE_ON_RESUME}


def check_checkpoint(state: dict[str, Any], spec: RunSpec, uid: str | None, path: Path) -> None:
    """Refuse to resume a checkpoint another run wrote: resuming it would report that run's
    weights and results as this one's."""
    try:
        stored = RunSpec.model_validate(state.get("spec") or {})
    except ValueError:
        stored = None
    if uid is not None and state.get("uid") != uid:
        owner = f"run {state['uid']}" if state.get("uid") else "a run with no identity"
        raise CheckpointMismatch(
            f"checkpoint in {path.parent} belongs to {owner} ({_describe(stored)}), not this run "
            f"({uid}, {_describe(spec)}); it is left as it is. Train into another folder."
        )
    if stored is None or training_fields(stored) != training_fields(spec):
        raise CheckpointMismatch(
            f"checkpoint in {path.parent} was trained with a different spec "
            f"({_spec_difference(stored, spec)}); not resuming it. Train into another folder, "
            "or pass resume=False to start over there."
        )


def _describe(spec: RunSpec | None) -> str:
    if spec is None:
        return "no valid spec"
    return f"{spec.algorithm} {spec.dataset}, seed {spec.seed}, {spec.num_labels} labels"


def _spec_difference(stored: RunSpec | None, spec: RunSpec) -> str:
    if stored is None:
        return "its stored spec is missing or no longer valid"
    old, new = training_fields(stored), training_fields(spec)
    fields = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    shown = [f"{k}: {old.get(k)!r} there, {new.get(k)!r} here" for k in fields[:5]]
    return "; ".join(shown) + (f"; {len(fields) - 5} more" if len(fields) > 5 else "")

"""Where a run's files live: ``MATCHLAB_HOME/runs/<uid>/``, the one place that says so.

Run ids start again at 1 in a new database (``matchlab.db`` deleted, an older backup restored, a
move to PostgreSQL) while ``MATCHLAB_HOME`` keeps the files of the runs that had those ids, so a
folder named by id could belong to a different run. Folders are named by the run's ``uid``
instead, which is never reused, and ``run.json`` inside says whose folder it is.

Runs made before identities trained into ``runs/<id>/``. Such a folder still serves a finished
run's downloads, but only when it carries no identity file and its ``spec.json`` is the run's
own spec; a run that is not finished (a new one, one being trained or resumed) always gets its
``uid`` folder, so nothing ever trains into, resumes from or deletes another run's legacy folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.store.models import TERMINAL, Run
from ssl_core.contract.spec import RunSpec

IDENTITY_FILE = "run.json"
SPEC_FILE = "spec.json"  # written by ssl_core.train
_UID = re.compile(r"[0-9a-f]{32}")


def own_dir(runs_dir: Path, run: Run) -> Path:
    """``runs/<uid>/``: where the run trains, resumes and (imported) has its files put."""
    if not _UID.fullmatch(run.uid or ""):  # only ever 32 hex digits: nothing else becomes a path
        raise ValueError(f"run {run.id} has uid {run.uid!r}; a uid is 32 hex digits")
    return runs_dir / run.uid


def run_dir(runs_dir: Path, run: Run) -> Path:
    """The folder for run ``run``'s checkpoints and metrics file (it may not exist yet)."""
    own = own_dir(runs_dir, run)
    if own.is_dir() or run.status not in TERMINAL or run.id is None:
        return own
    legacy = runs_dir / str(int(run.id))
    return legacy if is_legacy_folder_of(legacy, run) else own


def is_legacy_folder_of(folder: Path, run: Run) -> bool:
    """``folder`` (``runs/<id>/``) was written before identities, by a run with ``run``'s spec."""
    if (folder / IDENTITY_FILE).exists():
        return False  # an identity names its run; a legacy folder has none
    try:
        stored = json.loads((folder / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return False
    return same_spec(stored, run.spec)


def same_spec(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal once both are validated (a spec stored by older code lacks fields added since)."""
    try:
        a, b = RunSpec.model_validate(a).to_json_dict(), RunSpec.model_validate(b).to_json_dict()
    except ValueError:  # no longer a valid spec (e.g. an uninstalled plugin): compare as stored
        pass
    # A run's name and notes may be edited after it trained; they are labels, not training.
    return _without_labels(a) == _without_labels(b)


def _without_labels(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in ("name", "notes")}


def identity(run: Run) -> dict[str, Any]:
    """``run.json``: whose folder this is, for the worker's check and for a person reading it."""
    return {"uid": run.uid, "id": run.id, "name": run.name, "spec": run.spec}


def read_identity(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / IDENTITY_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # present but unreadable: not shown to be this run's


def write_identity(folder: Path, run: Run) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (IDENTITY_FILE + ".tmp")
    tmp.write_text(json.dumps(identity(run), indent=2))
    tmp.replace(folder / IDENTITY_FILE)

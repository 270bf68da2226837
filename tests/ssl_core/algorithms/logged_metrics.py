"""Short seeded runs of every built-in algorithm on digits: the metrics they log and the
algorithm state their first epoch's checkpoint holds, compared by ``test_logged_metrics.py``
with the values in ``logged_metrics.json``.

The JSON was written by the code from before the trainer computed the pseudo-label statistics
and saved the algorithms' state itself (``python tests/ssl_core/algorithms/logged_metrics.py
--write``, with that checkout first on PYTHONPATH): its metrics are what users saw, its states
are checkpoints in the format of that time. This file imports only ``ssl_core`` for that reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).with_name("logged_metrics.json")
# bn_momentum 0.1: the small CNN's own, which these runs had before the spec sized BatchNorm's
# momentum to the run (a 6-step run would derive 0.99, ssl_core/contract/horizons.py): the
# fixture pins what the algorithms log, not that default.
SHORT = {
    "epochs": 2,
    "iters_per_epoch": 3,
    "batch_size": 8,
    "eval_batch_size": 256,
    "bn_momentum": 0.1,
}
# Mean Teacher's teacher is a copy of the net's weights: too large to pin here, and no state
# of the kind this fixture checks (its resume is covered by tests/ssl_core/algorithms).
UNPINNED_STATE = ("teacher_model.",)
# A threshold low enough that a few steps from scratch admit pseudo-labels: with the defaults
# (τ 0.95) the mask statistics of these methods would all be 0 and compare nothing.
LOW_THRESHOLD = {"threshold": 0.3}
HPARAMS: dict[str, dict[str, Any]] = {
    name: LOW_THRESHOLD for name in ("fixmatch", "flexmatch", "pseudolabel", "uda")
}
TIMED = ("train/imgs_per_s", "train/compile_seconds")  # wall-clock: differs run to run


def spec(algorithm: str) -> dict[str, Any]:
    return {"algorithm": algorithm, **SHORT, "device": "cpu", "hparams": HPARAMS.get(algorithm, {})}


def untimed(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in TIMED}


def logged(algorithm: str, out_dir: Path) -> dict[str, Any]:
    """``epochs``: each epoch's metrics, without the timed ones; ``state``: the algorithm state
    in the checkpoint written after epoch 1 (tensors as ``tensor_to_json`` writes them)."""
    import torch

    from ssl_core import train
    from ssl_core.contract.callbacks import Callback

    class Recorder(Callback):
        def __init__(self) -> None:
            self.epochs: list[dict[str, float]] = []
            self.state: dict[str, Any] = {}

        def on_epoch_end(self, end) -> None:  # noqa: ANN001 — ssl_core.callbacks.EpochEnd
            self.epochs.append(untimed(end.metrics))
            if end.epoch == 1:  # the checkpoint is written before the callbacks hear of it
                saved = torch.load(out_dir / "checkpoint.pt", weights_only=True)["algorithm"]
                self.state = {
                    k: tensor_to_json(v)
                    for k, v in saved.items()
                    if not k.startswith(UNPINNED_STATE)
                }

    recorder = Recorder()
    train(spec(algorithm), out_dir, callbacks=[recorder])
    return {"epochs": recorder.epochs, "state": recorder.state}


def tensor_to_json(tensor: Any) -> dict[str, Any]:  # noqa: ANN401 — a torch.Tensor
    return {
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "shape": list(tensor.shape),
        "values": tensor.flatten().tolist(),
    }


def tensor_from_json(saved: dict[str, Any]) -> Any:  # noqa: ANN401 — a torch.Tensor
    import torch

    dtype = getattr(torch, saved["dtype"])
    return torch.tensor(saved["values"], dtype=dtype).reshape(saved["shape"])


def earlier_names(state: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """``state`` with each key renamed to the key of ``earlier`` it ends with after a dot
    (``sat.global_threshold`` → ``global_threshold``): the checkpoint format before the state
    lived in submodules, which test_logged_metrics.py resumes from."""
    out = {}
    for key, value in state.items():
        old = [name for name in earlier if key.endswith(f".{name}")]
        out[old[0] if len(old) == 1 else key] = value
    return out


def main() -> None:
    import tempfile

    from ssl_core.contract.catalog import BUILTIN_ALGORITHMS

    # ``--only a,b``: regenerate those entries and keep the others as they are (the entries of
    # algorithms whose defaults did not change keep pinning the earlier code's values).
    only = next((arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--only=")), None)
    names = only.split(",") if only else list(BUILTIN_ALGORITHMS)
    values = json.loads(FIXTURE.read_text()) if only else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            entry = logged(name, Path(tmp) / name)
            if name in values:  # keep the state in the earlier checkpoint format, as replaced
                entry["state"] = earlier_names(entry["state"], values[name]["state"])
            values[name] = entry
    text = json.dumps(values, indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        FIXTURE.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

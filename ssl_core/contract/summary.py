"""The run summary, folded epoch by epoch: the one definition the trainer, its checkpoints, the
worker's store and the CLI's ``--json`` all share. Torch-free.

Model selection is on validation, never on test: ``test_top1_at_best_val`` is the test accuracy
at the epoch with the best validation accuracy (the first such epoch on a tie).
"""

from __future__ import annotations

from typing import Any

from ssl_core.contract.metrics import TEST_TOP1, VAL_TOP1

EMPTY: dict[str, Any] = {
    "best_val_top1": None,
    "best_epoch": None,
    "test_top1_at_best_val": None,
    "last_test_top1": None,
}


def update_summary(
    summary: dict[str, Any], epoch: int, metrics: dict[str, float]
) -> dict[str, Any]:
    """``summary`` with epoch ``epoch``'s metrics folded in (a new dict)."""
    out = {**EMPTY, **summary}
    val, test = metrics.get(VAL_TOP1), metrics.get(TEST_TOP1)
    if val is not None and (out["best_val_top1"] is None or val > out["best_val_top1"]):
        out.update(best_val_top1=val, best_epoch=epoch, test_top1_at_best_val=test)
    if test is not None:
        out["last_test_top1"] = test
    out["epochs"] = epoch
    return out

"""The run summary, folded epoch by epoch: the one definition the trainer, its checkpoints, the
worker's store and the CLI's ``--json`` all share, and one row per field that pages, tables,
filters and exports read their names and words from. Torch-free.

Model selection is on validation, never on test: ``test_top1_at_best_val`` is the test accuracy
at the epoch with the best validation accuracy (the first such epoch on a tie). ``best_test_top1``,
the best test accuracy over the epochs, is there only to line a run up with TorchSSL's and USB's
published numbers (their protocol): it is never the default statistic nor used for selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssl_core.contract.metrics import TEST_TOP1, VAL_TOP1
from ssl_core.contract.references import AT_BEST_VAL, BEST_TEST


@dataclass(frozen=True)
class SummaryField:
    key: str
    label: str  # words for a table heading or a panel
    unit: str  # "%" or "epoch"
    description: str = ""
    compared: bool = True  # a column of the compare page's runs table
    listed: bool = False  # a column of the runs and sweep tables too
    digits: int = 1  # decimals shown

    @property
    def heading(self) -> str:
        """The label with its unit, for axes and table columns: "best val top-1 (%)"."""
        return f"{self.label} ({self.unit})" if self.unit == "%" else self.label


BEST_VAL_TOP1 = "best_val_top1"
TEST_TOP1_AT_BEST_VAL = "test_top1_at_best_val"
LAST_TEST_TOP1 = "last_test_top1"
BEST_EPOCH = "best_epoch"
BEST_TEST_TOP1 = "best_test_top1"

# In the order pages show them.
FIELDS = (
    SummaryField(BEST_VAL_TOP1, "best val top-1", "%", f"the highest {VAL_TOP1} of the run",
                 listed=True),
    SummaryField(TEST_TOP1_AT_BEST_VAL, "test top-1 at best val", "%",
                 f"{TEST_TOP1} at the epoch of the best {VAL_TOP1} (the number to report)",
                 listed=True),
    SummaryField(LAST_TEST_TOP1, "last test top-1", "%", f"{TEST_TOP1} of the last epoch"),
    SummaryField(BEST_TEST_TOP1, "best test top-1 (papers' protocol)", "%",
                 f"the highest {TEST_TOP1} over the epochs, as TorchSSL and USB report; an "
                 "optimistic number, to line a run up with theirs, never for selection"),
    SummaryField(BEST_EPOCH, "best epoch", "epoch", f"the epoch of the best {VAL_TOP1}",
                 compared=False, digits=0),
)  # fmt: skip
SUMMARY_FIELDS: dict[str, SummaryField] = {f.key: f for f in FIELDS}
# The statistics of compare and the result tables, the headline first (its default).
STATISTICS = (TEST_TOP1_AT_BEST_VAL, BEST_VAL_TOP1, LAST_TEST_TOP1, BEST_TEST_TOP1)
DEFAULT_STATISTIC = STATISTICS[0]
# Which test number each test statistic is, in the words of the references' protocols
# (``ssl_core.contract.references``): a published number matches only a statistic of its rule.
SELECTION = {TEST_TOP1_AT_BEST_VAL: AT_BEST_VAL, BEST_TEST_TOP1: BEST_TEST,
             LAST_TEST_TOP1: "test at the last epoch", BEST_VAL_TOP1: "best validation"}  # fmt: skip
# A search ranks its configurations by this field averaged over the seeds: validation, never test.
SEARCH_OBJECTIVE = BEST_VAL_TOP1
SEARCH_OBJECTIVE_LABEL = f"mean {SUMMARY_FIELDS[SEARCH_OBJECTIVE].label} over seeds"

EMPTY: dict[str, Any] = {
    BEST_VAL_TOP1: None,
    BEST_EPOCH: None,
    TEST_TOP1_AT_BEST_VAL: None,
    LAST_TEST_TOP1: None,
    BEST_TEST_TOP1: None,
}


def heading(key: str) -> str:
    """The heading of a summary field; the key itself for one not in the table."""
    field = SUMMARY_FIELDS.get(key)
    return field.heading if field else key


def update_summary(
    summary: dict[str, Any], epoch: int, metrics: dict[str, float]
) -> dict[str, Any]:
    """``summary`` with epoch ``epoch``'s metrics folded in (a new dict)."""
    out = {**EMPTY, **summary}
    val, test = metrics.get(VAL_TOP1), metrics.get(TEST_TOP1)
    if val is not None and (out[BEST_VAL_TOP1] is None or val > out[BEST_VAL_TOP1]):
        out.update({BEST_VAL_TOP1: val, BEST_EPOCH: epoch, TEST_TOP1_AT_BEST_VAL: test})
    if test is not None:
        out[LAST_TEST_TOP1] = test
        if out[BEST_TEST_TOP1] is None or test > out[BEST_TEST_TOP1]:
            out[BEST_TEST_TOP1] = test
    out["epochs"] = epoch
    return out

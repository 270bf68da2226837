"""The run summary: model selection on validation, never on test (moved from the sink tests)."""

from __future__ import annotations

from ssl_core.contract.summary import update_summary


def test_summary_selects_on_validation_never_on_test():
    summary = {}
    summary = update_summary(summary, 1, {"val/top1": 50.0, "test/top1": 90.0})
    summary = update_summary(summary, 2, {"val/top1": 60.0, "test/top1": 55.0})
    summary = update_summary(summary, 3, {"val/top1": 60.0, "test/top1": 58.0})  # a tie: keep 2
    summary = update_summary(summary, 4, {"val/top1": 40.0, "test/top1": 95.0})
    assert summary == {
        "best_val_top1": 60.0,
        "best_epoch": 2,
        "test_top1_at_best_val": 55.0,
        "last_test_top1": 95.0,
        "epochs": 4,
    }

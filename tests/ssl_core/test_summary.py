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
        "best_test_top1": 95.0,
        "epochs": 4,
    }


def test_best_test_over_epochs_is_an_extra_field_never_the_default_nor_the_objective():
    from ssl_core.contract import summary as fields

    summary = {}
    for epoch, (val, test) in enumerate([(50.0, 70.0), (60.0, 65.0), (55.0, 80.0), (58.0, 75.0)]):
        summary = update_summary(summary, epoch + 1, {"val/top1": val, "test/top1": test})
    assert summary["best_test_top1"] == 80.0  # epoch 3, the papers' protocol
    assert summary["test_top1_at_best_val"] == 65.0  # epoch 2, the number to report
    assert "papers' protocol" in fields.SUMMARY_FIELDS[fields.BEST_TEST_TOP1].label
    assert fields.DEFAULT_STATISTIC == fields.TEST_TOP1_AT_BEST_VAL
    assert fields.SEARCH_OBJECTIVE == fields.BEST_VAL_TOP1
    assert update_summary({}, 1, {"val/top1": 10.0})["best_test_top1"] is None  # no test logged

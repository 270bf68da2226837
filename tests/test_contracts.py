"""docs/CONTRACTS.md's generated sections say what the code says (python -m ssl_core.contracts)."""

from __future__ import annotations

from ssl_core import contracts


def test_contracts_document_is_current():
    text = contracts.DOC.read_text()
    assert contracts.render(text) == text, "run: python -m ssl_core.contracts"


def test_a_changed_fact_shows_up_in_the_document(monkeypatch):
    from ssl_core import metrics

    row = metrics.METRIC_KEYS["val/top1"]
    monkeypatch.setitem(
        metrics.METRIC_KEYS, "val/top1", row.__class__(**{**row.__dict__, "unit": "ratio"})
    )
    text = contracts.DOC.read_text()
    assert contracts.render(text) != text

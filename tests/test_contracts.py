"""The generated sections of docs/CONTRACTS.md and the README say what the code says
(python -m ssl_core.contract.docs)."""

from __future__ import annotations

from ssl_core.contract import docs


def test_contracts_document_is_current():
    text = docs.DOC.read_text()
    assert docs.render(text) == text, "run: python -m ssl_core.contract.docs"


def test_readme_hyperparameter_table_is_current():
    text = docs.README.read_text()
    assert docs.render(text, docs.README_SECTIONS) == text, "run: python -m ssl_core.contract.docs"


def test_a_changed_fact_shows_up_in_the_document(monkeypatch):
    from ssl_core.contract import metrics

    row = metrics.METRIC_KEYS["val/top1"]
    monkeypatch.setitem(
        metrics.METRIC_KEYS, "val/top1", row.__class__(**{**row.__dict__, "unit": "ratio"})
    )
    text = docs.DOC.read_text()
    assert docs.render(text) != text

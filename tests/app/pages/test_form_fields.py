"""The run form follows the spec: every RunSpec field has an input (or is hidden on purpose,
with a reason), so a new spec field cannot be left out of the form unnoticed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.pages import form_state
from ssl_core.contract.catalog import ALGORITHMS
from ssl_core.contract.spec import RunSpec


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _input_names(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html))


def test_every_spec_field_is_in_the_run_form_or_hidden_on_purpose(pages):
    assert set(form_state.HIDDEN) <= set(RunSpec.model_fields), "HIDDEN names a spec field"
    for algorithm in ALGORITHMS:
        names = _input_names(pages.get(f"/runs/new?algorithm={algorithm}").text)
        missing = [
            field
            for field in RunSpec.model_fields
            if field not in names and field not in form_state.HIDDEN
        ]
        assert not missing, f"{algorithm}: the run form lacks {missing}"


def test_a_new_spec_field_gets_an_input_and_reaches_the_spec():
    class Wider(RunSpec):
        label_smoothing: float = 0.0

    sections = dict(form_state.run_inputs("fixmatch", Wider))
    (extra,) = sections[form_state.OTHER]
    assert (extra.name, extra.kind, extra.default) == ("label_smoothing", "number", 0.0)
    everywhere = [i.name for inputs in sections.values() for i in inputs]
    assert len(everywhere) == len(set(everywhere))  # each field once
    assert form_state.OTHER not in dict(form_state.run_inputs("fixmatch"))

"""The run and compare pages say when a run's moving averages never settled (from its spec),
and how large the validation set is against the labels."""

from __future__ import annotations

import html as html_module
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.domain.diagnosis import Signal, group_notes, horizon_note, run_notes
from app.main import create_app
from ssl_core.contract.spec import RunSpec


def stored(**values) -> dict:
    return RunSpec.model_validate(values).to_json_dict()


def test_a_papers_momentum_in_a_600_step_run_is_named_with_its_remaining_weight():
    spec = stored(algorithm="freematch", hparams={"ema_momentum": 0.999})
    note = horizon_note(spec)
    assert note is not None
    assert "FreeMatch's global threshold still at 55 % of its starting value" in note
    assert "600 steps" in note
    assert horizon_note(stored(algorithm="freematch")) is None  # derived: settled
    assert any("55 %" in n for n in run_notes("freematch", {}, spec))


def test_group_notes_count_the_runs_that_never_settled():
    slow = stored(algorithm="softmatch", hparams={"ema_momentum": 0.999})
    members = [(Signal(), slow), (Signal(), stored(algorithm="softmatch"))]
    (note,) = [n for n in group_notes(members) if "starting value" in n]
    assert note.startswith("1 of 2 runs ended with SoftMatch's confidence mean and variance")


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_run_page_shows_the_validation_size_and_warns_when_it_dwarfs_the_labels(pages):
    big = pages.post("/api/runs", json={"algorithm": "fixmatch", "dataset": "fashion_mnist"})
    text = html_module.unescape(pages.get(f"/runs/{big.json()['id']}").text)
    assert "5,000 images for 40 labels (125×)" in text
    assert 'id="run-validation-warning"' in text and "Oliver et al. 2018" in text
    fair = pages.post(
        "/api/runs",
        json={"algorithm": "fixmatch", "dataset": "fashion_mnist", "val_split": "realistic"},
    )
    text = html_module.unescape(pages.get(f"/runs/{fair.json()['id']}").text)
    assert "40 images for 40 labels (1×)" in text and "run-validation-warning" not in text


def test_run_page_carries_the_horizon_note(pages):
    run = pages.post(
        "/api/runs", json={"algorithm": "freematch", "hparams": {"ema_momentum": 0.999}}
    )
    text = html_module.unescape(pages.get(f"/runs/{run.json()['id']}").text)
    assert "FreeMatch's global threshold still at 55 % of its starting value" in text


def test_group_notes_say_when_the_validation_set_dwarfs_the_labels():
    standard = stored(algorithm="fixmatch", dataset="fashion_mnist")
    realistic = stored(algorithm="fixmatch", dataset="fashion_mnist", val_split="realistic")
    (note,) = [n for n in group_notes([(Signal(), standard)]) if "validation set" in n]
    assert note.startswith("1 of 1 run chose their epoch on a validation set 125× the labels")
    assert not [n for n in group_notes([(Signal(), realistic)]) if "validation set" in n]


def test_the_run_form_leaves_derived_fields_blank_and_the_paper_preset_fills_them():
    from app.pages import form_state

    state = form_state.default_state("freematch")
    assert state["hparams.ema_momentum"] == "" and state["bn_momentum"] == ""
    paper, problem = form_state.preset_state({**state, "dataset": "cifar10"}, "paper")
    assert problem is None
    assert (paper["hparams.ema_momentum"], paper["bn_momentum"]) == ("0.999", "0.001")
    assert (paper["precision"], paper["strong_augment"]) == ("fp32", "usb")
    spec = RunSpec.model_validate(form_state.spec_values(paper))
    assert (spec.hparams.ema_momentum, spec.bn_momentum, spec.precision) == (0.999, 0.001, "fp32")
    blank = RunSpec.model_validate(form_state.spec_values(state))
    assert blank.hparams.ema_momentum == 0.9697  # derived from the run's length

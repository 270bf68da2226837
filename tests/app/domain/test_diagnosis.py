"""The run and compare pages' words about pseudo-labels: FlexMatch's warm-up, and masks that
explain a weak result (everything pseudo-labelled with poor labels, or almost no unlabeled
signal)."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.domain.diagnosis import group_notes, run_notes, signal_of
from app.main import create_app
from app.pages.run_charts import run_charts
from tests.app.conftest import add_points

FIXMATCH = {"algorithm": "fixmatch", "hparams": {"threshold": 0.95}}
FLEXMATCH = {"algorithm": "flexmatch", "hparams": {"threshold": 0.95, "threshold_warmup": True}}


def series(**columns: list[float]) -> dict[str, dict[str, list]]:
    """``mask=[…]`` → ``{"train/mask_ratio": {"epoch": [1, …], "value": […]}}`` and so on."""
    names = {"mask": "train/mask_ratio", "acc": "train/pseudo_label_acc",
             "unseen": "train/unseen_ratio"}  # fmt: skip
    out = {}
    for name, values in columns.items():
        key = names.get(name, name.replace("threshold_", "train/threshold/"))
        key = key.replace("share_", "train/pseudo_label_share/")
        out[key] = {"epoch": list(range(1, len(values) + 1)), "value": values}
    return out


def warmup_series(highest: float) -> dict[str, dict[str, list]]:
    return series(mask=[0.6, 0.7], acc=[90.0, 92.0], unseen=[0.9, 0.62],
                  threshold_0=[0.0, 0.03], threshold_1=[0.01, highest])  # fmt: skip


def test_flexmatch_in_warmup_says_so_with_the_never_selected_share():
    notes = run_notes("flexmatch", warmup_series(0.31), FLEXMATCH)
    assert len(notes) == 1 and notes[0].startswith("Thresholds are still in warm-up")
    assert "62% of the unlabeled images have never" in notes[0]  # the last epoch's share
    assert "the highest is 0.31" in notes[0]


def test_no_warmup_note_once_a_class_reaches_tau_or_without_warmup():
    assert run_notes("flexmatch", warmup_series(0.95), FLEXMATCH) == []
    no_warmup = {**FLEXMATCH, "hparams": {"threshold": 0.95, "threshold_warmup": False}}
    assert run_notes("flexmatch", warmup_series(0.31), no_warmup) == []


def test_everything_pseudo_labelled_with_poor_labels_is_named():
    notes = run_notes("fixmatch", series(mask=[1.0, 0.98], acc=[55.0, 61.0]), FIXMATCH)
    assert notes == [
        "Pseudo-labelling everything: 99% of the unlabeled images enter the loss (on average "
        "over 2 epochs) with pseudo-labels only 58 % correct, so the unlabeled loss also teaches "
        "the model its own mistakes."
    ]
    # The same mask with good pseudo-labels is what the method wants: no note.
    assert run_notes("fixmatch", series(mask=[1.0, 0.98], acc=[93.0, 95.0]), FIXMATCH) == []


def test_almost_no_unlabeled_signal_is_named():
    (note,) = run_notes("fixmatch", series(mask=[0.0, 0.02, 0.04], acc=[0.0, 70.0, 80.0]), FIXMATCH)
    assert note.startswith("Almost no unlabeled signal: only 2.0% of the unlabeled images")
    assert run_notes("fixmatch", series(mask=[0.2, 0.5], acc=[80.0, 85.0]), FIXMATCH) == []


def test_mixmatch_and_labels_only_get_no_mask_notes():
    # MixMatch uses every guess by design (mask ratio 1.0): not a failure to report.
    mixmatch = {"algorithm": "mixmatch", "hparams": {"temperature": 0.5}}
    assert run_notes("mixmatch", series(mask=[1.0], acc=[40.0]), mixmatch) == []
    assert run_notes("supervised", {}, {"algorithm": "supervised", "hparams": {}}) == []


def test_run_charts_carry_the_notes_and_the_never_selected_trace():
    charts = {c["id"]: c for c in run_charts("flexmatch", 2, warmup_series(0.31), 2, FLEXMATCH)}
    assert "train/unseen_ratio" in charts["pseudo"]["keys"]
    unseen = charts["pseudo"]["keys"].index("train/unseen_ratio")
    assert charts["pseudo"]["figure"]["data"][unseen]["y"] == [90.0, 62.0]  # share shown in %
    assert charts["pseudo"]["notes"][0].startswith("Thresholds are still in warm-up")
    fixmatch = {c["id"]: c for c in run_charts("fixmatch", 2, {}, 2, FIXMATCH)}
    assert "train/unseen_ratio" not in fixmatch["pseudo"]["keys"]


def shares_series(last: list[float], mask: float = 0.6) -> dict[str, dict[str, list]]:
    """Two epochs: balanced shares, then ``last``; the mask ratio ends at ``mask``."""
    uniform = 1 / len(last)
    columns = {f"share_{c}": [uniform, share] for c, share in enumerate(last)}
    return series(mask=[0.5, mask], acc=[90.0, 90.0], **columns)


# Fashion-MNIST-40's collapse, shaped: class 6 almost never named, its images under class 0.
SKEWED = [0.19, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.1, 0.1, 0.1]


def test_a_class_the_pseudo_labels_rarely_name_is_named_with_its_share():
    (note,) = run_notes("fixmatch", shares_series(SKEWED), FIXMATCH)
    assert note == (
        "At the last epoch, pseudo-labels rarely name class 6: 1 % of those admitted (uniform "
        "10 %). Images of class 6 are admitted under other labels, so the unlabeled loss "
        "confirms the collapse; class-aware thresholds (FlexMatch, FreeMatch) are meant to "
        "counter it."
    )
    # MixMatch's guesses count for every image: the same test applies.
    two = [0.2, 0.18, 0.1, 0.1, 0.1, 0.1, 0.0, 0.1, 0.1, 0.02]
    (note,) = run_notes("mixmatch", shares_series(two), {"algorithm": "mixmatch", "hparams": {}})
    assert note.startswith(
        "At the last epoch, pseudo-labels rarely name classes 6 and 9: 0 % and 2 % of those "
    )


def test_the_collapse_note_names_the_classes_of_a_dataset_that_names_them():
    fashion = {**FIXMATCH, "dataset": "fashion_mnist"}
    (note,) = run_notes("fixmatch", shares_series(SKEWED), fashion)
    assert note.startswith("At the last epoch, pseudo-labels rarely name class 6 (shirt): 1 % ")
    assert "Images of class 6 (shirt) are admitted" in note
    skewed = signal_of(shares_series(SKEWED))
    (note,) = group_notes([(skewed, fashion), (skewed, fashion)])
    assert "class 6 (shirt) in 2 runs" in note
    # Runs of two datasets in one group: indices, since a class number means two things.
    (note,) = group_notes([(skewed, fashion), (skewed, {**FIXMATCH, "dataset": "cifar10"})])
    assert "class 6 in 2 runs" in note


def test_no_collapse_note_for_balanced_shares_a_tiny_mask_or_nothing_admitted():
    balanced = [0.14, 0.06, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]  # 0.06 ≥ a quarter of 0.1
    assert run_notes("fixmatch", shares_series(balanced), FIXMATCH) == []
    # A few admitted images make the shares noise: no note below a mask ratio of 0.1.
    assert run_notes("fixmatch", shares_series(SKEWED, mask=0.08), FIXMATCH) == []
    assert run_notes("fixmatch", shares_series([0.0] * 10, mask=0.6), FIXMATCH) == []


def test_group_notes_count_the_runs_whose_pseudo_labels_collapsed():
    skewed = (signal_of(shares_series(SKEWED)), FIXMATCH)
    balanced = (signal_of(shares_series([0.1] * 10)), FIXMATCH)
    (note,) = group_notes([skewed, balanced, skewed])
    assert note.startswith(
        "2 of 3 runs ended with pseudo-labels that rarely name some class (under a quarter of "
        "the uniform share of those admitted at the last epoch; class 6 in 2 runs)"
    )
    assert group_notes([balanced]) == []


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_run_page_shows_the_notes_in_words(pages, engine):
    run_id = pages.post("/api/runs", json={"algorithm": "fixmatch", "epochs": 3}).json()["id"]
    add_points(engine, run_id, "train/mask_ratio", [0.01, 0.0, 0.02])
    add_points(engine, run_id, "train/pseudo_label_acc", [50.0, 0.0, 60.0])
    html = pages.get(f"/runs/{run_id}").text
    assert 'id="diagnosis"' in html and "Almost no unlabeled signal" in html
    quiet = pages.post("/api/runs", json={"algorithm": "fixmatch", "epochs": 3}).json()["id"]
    add_points(engine, quiet, "train/mask_ratio", [0.3, 0.5, 0.6])
    assert 'id="diagnosis"' not in pages.get(f"/runs/{quiet}").text


def test_short_budget_template_is_the_study_in_one_click(pages):
    """Fashion-MNIST-40 at the CPU defaults (600 steps), every algorithm × seeds 0 to 4."""
    html = pages.get("/sweeps/new?template=short_budget").text
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', html))
    form = {k: v for k, v in fields.items() if k in ("name", "seeds") or k.startswith("grid_")}
    base = re.search(r'<textarea[^>]*name="base"[^>]*>([^<]*)<', html).group(1)
    form.update(preset="", base=html_module.unescape(base))
    location = pages.post("/sweeps/new", data=form, follow_redirects=False).headers["location"]
    runs = pages.get("/api" + location).json()["runs"]
    cells = sorted((r["spec"]["algorithm"], r["spec"]["seed"]) for r in runs)
    algorithms = ["fixmatch", "flexmatch", "mixmatch", "supervised"]
    assert cells == [(a, s) for a in algorithms for s in range(5)]
    for run in runs:
        spec = run["spec"]
        assert (spec["dataset"], spec["num_labels"], spec["net"]) == (
            "fashion_mnist",
            40,
            "cnn_small",
        )
        assert spec["epochs"] * spec["iters_per_epoch"] == 600
        assert spec["lr"] == 0.1  # the defaults the study measured


def test_group_notes_count_the_runs_in_warmup_and_with_weak_masks():
    in_warmup = (signal_of(warmup_series(0.31)), FLEXMATCH)  # never selected 62 % at the end
    done = (signal_of(warmup_series(0.95)), FLEXMATCH)
    assert group_notes([done, done]) == []
    (note,) = group_notes([in_warmup, done, in_warmup])
    assert note.startswith("2 of 3 runs ended with FlexMatch's thresholds still in warm-up")
    assert "on average 62% of the unlabeled images were never predicted" in note
    poor = (signal_of(series(mask=[1.0, 0.98], acc=[55.0, 61.0])), FIXMATCH)
    empty = (signal_of(series(mask=[0.0, 0.02], acc=[0.0, 80.0])), FIXMATCH)
    fine = (signal_of(series(mask=[0.3, 0.6], acc=[85.0, 80.0])), FIXMATCH)
    notes = group_notes([poor, empty, fine])
    assert notes[0].startswith("1 of 3 runs pseudo-labelled everything: 99% of the unlabeled")
    assert "only 58 % correct" in notes[0]
    assert notes[1].startswith("1 of 3 runs had almost no unlabeled signal: only 1.0%")
    mixmatch = {"algorithm": "mixmatch", "hparams": {"temperature": 0.5}}
    assert group_notes([(signal_of(series(mask=[1.0], acc=[40.0])), mixmatch)]) == []


def test_compare_api_names_the_collapse_from_the_stored_last_epoch(pages, engine):
    ids = [
        pages.post("/api/runs", json={"algorithm": a, "epochs": 2}).json()["id"]
        for a in ("fixmatch", "fixmatch", "flexmatch")
    ]
    for run_id in ids:
        add_points(engine, run_id, "train/mask_ratio", [0.5, 0.6])
        add_points(engine, run_id, "val/top1", [40.0, 50.0])
        for c, share in enumerate(SKEWED):  # balanced at epoch 1: only the last epoch counts
            add_points(engine, run_id, f"train/pseudo_label_share/{c}", [0.1, share])
    groups = {g["name"]: g for g in pages.get(f"/api/compare?runs={ids[0]},{ids[1]},{ids[2]}")
              .json()["groups"]}  # fmt: skip
    (note,) = groups["fixmatch"]["notes"]
    assert note.startswith("2 of 2 runs ended with pseudo-labels that rarely name some class")
    assert "class 6 in 2 runs" in note
    assert groups["flexmatch"]["notes"][-1].startswith("1 of 1 run ended with pseudo-labels")


def test_compare_page_and_api_say_which_groups_ended_in_warmup(pages, engine):
    """Per group, from the members' stored series: the same tests as the run page."""
    warm = {"algorithm": "flexmatch", "epochs": 2, "hparams": {"threshold_warmup": True}}
    ids = [pages.post("/api/runs", json={**warm, "seed": s}).json()["id"] for s in (0, 1)]
    for run_id in ids:
        add_points(engine, run_id, "train/unseen_ratio", [0.9, 0.6])
        add_points(engine, run_id, "train/threshold/0", [0.0, 0.2])
        add_points(engine, run_id, "train/threshold/1", [0.01, 0.3])
        add_points(engine, run_id, "train/mask_ratio", [0.99, 0.99])
        add_points(engine, run_id, "train/pseudo_label_acc", [40.0, 50.0])
        add_points(engine, run_id, "val/top1", [40.0, 50.0])
    fix = pages.post("/api/runs", json={"algorithm": "fixmatch", "epochs": 2}).json()["id"]
    add_points(engine, fix, "train/mask_ratio", [0.4, 0.6])
    add_points(engine, fix, "train/pseudo_label_acc", [85.0, 80.0])
    add_points(engine, fix, "val/top1", [40.0, 52.0])
    runs = ",".join(map(str, [*ids, fix]))
    groups = {g["name"]: g for g in pages.get(f"/api/compare?runs={runs}").json()["groups"]}
    flex = groups["flexmatch"]["notes"]
    assert flex[0].startswith("2 of 2 runs ended with FlexMatch's thresholds still in warm-up")
    assert "on average 60% of the unlabeled images" in flex[0]
    assert flex[1].startswith("2 of 2 runs pseudo-labelled everything: 99%")
    assert groups["fixmatch"]["notes"] == []
    html = pages.get(f"/compare?runs={runs}").text
    assert 'id="group-notes"' in html
    assert "<strong>flexmatch</strong>: 2 of 2 runs ended with FlexMatch" in html.replace(
        "&#39;", "'"
    )
    assert 'id="group-notes"' not in pages.get(f"/compare?runs={fix}").text

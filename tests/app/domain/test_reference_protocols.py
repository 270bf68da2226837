"""Published numbers like for like: each carries its protocol, and compare marks it a match only
when a group's runs share it (data variant, net, total steps, the statistic's selection rule)."""

from __future__ import annotations

from app.domain.compare import DEFAULT_METRIC
from ssl_core.contract import references, summary
from tests.app.conftest import set_run

PAPER_LENGTH = {"epochs": 1024, "iters_per_epoch": 1024}  # 2^20 steps, as USB and TorchSSL


def test_the_references_api_returns_each_numbers_protocol(client):
    got = client.get("/api/references", params={"dataset": "svhn", "num_labels": 40}).json()
    fix = [r for r in got if r["algorithm"] == "fixmatch"]
    assert fix and fix[0]["variant"] == "svhn_extra" and fix[0]["net"] == "wrn_28_2"
    assert fix[0]["steps"] == 1_048_576 and fix[0]["selection"] == "best test over checkpoints"
    assert "svhn_extra, WRN-28-2, 1,048,576 steps" in fix[0]["protocol"]
    stl = client.get("/api/references", params={"dataset": "stl10"}).json()
    assert stl and {r["net"] for r in stl} == {"wrn_37_2"}
    # the variant's name finds its family's numbers
    assert (
        client.get("/api/references", params={"dataset": "svhn_extra"}).json()
        == client.get("/api/references", params={"dataset": "svhn"}).json()
    )


def test_corrected_entries():
    usb = [r for r in references.REFERENCES if r.source == references.USB_CLASSIC_CV]
    # USB's classic_cv configs run CIFAR-100 on wrn_28_2 (config/classic_cv/*/..._cifar100_*.yaml)
    assert {r.net for r in usb if r.dataset == "cifar100"} == {"wrn_28_2"}
    torchssl = references.find("cifar100", 400, "fixmatch")
    assert {r.net for r in torchssl if r.source == references.FLEXMATCH_TABLES} == {"wrn_28_8"}
    assert all(r.variant == "svhn_extra" for r in references.find("svhn"))
    caveated = {r.algorithm for r in references.REFERENCES if r.caveat}
    assert caveated == {"meanteacher", "uda"}
    assert "no gradient" in references.find("cifar10", 40, "meanteacher")[0].caveat
    assert "sharpen" in references.find("cifar10", 40, "uda")[0].caveat
    # the papers' own tables: what could not be checked is said, not guessed
    paper = [r for r in references.find("cifar10", 250, "mixmatch") if r.error == 11.08][0]
    assert paper.selection is None and set(paper.unverified) == {"steps", "selection"}


def _finished(client, engine, **spec) -> int:
    run = client.post("/api/runs", json={"algorithm": "fixmatch", "num_labels": 40} | spec)
    assert run.status_code in (200, 201), run.text
    run_id = run.json()["id"]
    values = {key: 90.0 for key in summary.STATISTICS}
    set_run(engine, run_id, status="succeeded", summary=values)
    return run_id


def test_compare_marks_a_matching_run_and_lists_the_differences_of_another(client, engine):
    paper = _finished(client, engine, dataset="svhn_extra", **PAPER_LENGTH)
    short = _finished(client, engine, dataset="svhn", seed=1)

    def refs(run_id: int, metric: str) -> list[dict]:
        params = {"runs": str(run_id), "metric": metric}
        body = client.get("/api/compare", params=params).json()
        return [r for r in body["groups"][0]["references"] if r["source"].startswith("FlexMatch")]

    (like,) = refs(paper, summary.BEST_TEST_TOP1)
    assert like["match"] is True and like["differences"] == []
    # the headline statistic is test at best validation: never like the papers' best test
    (headline,) = refs(paper, DEFAULT_METRIC)
    assert headline["match"] is False
    assert headline["differences"] == [
        "selection: test at best validation vs best test over checkpoints"
    ]
    (other,) = refs(short, summary.BEST_TEST_TOP1)
    assert other["match"] is False
    assert other["differences"] == ["data svhn vs svhn_extra", "600 steps vs 1,048,576"]
    # USB's UDA code never sharpens: its number never matches matchlab's UDA, whatever the protocol
    uda = _finished(client, engine, dataset="svhn_extra", **PAPER_LENGTH, algorithm="uda", seed=2)
    params = {"runs": str(uda), "metric": summary.BEST_TEST_TOP1}
    (usb,) = client.get("/api/compare", params=params).json()["groups"][0]["references"]
    assert usb["match"] is False and usb["caveat"] == references.UDA_CAVEAT
    assert usb["differences"] == ["method: not the one matchlab implements (see caveat)"]


def test_the_compare_page_says_different_protocol(settings, client, engine):
    from fastapi.testclient import TestClient

    from app.main import create_app

    short = _finished(client, engine, dataset="svhn")
    paper = _finished(client, engine, dataset="svhn_extra", **PAPER_LENGTH)
    with TestClient(create_app(settings)) as pages:
        html = pages.get(f"/compare?runs={short}").text
        like = pages.get(f"/compare?runs={paper}&metric={summary.BEST_TEST_TOP1}")
    assert "different protocol" in html and "600 steps vs 1,048,576" in html
    assert "svhn_extra, WRN-28-2, 1,048,576 steps, best test over checkpoints" in html
    assert like.status_code == 200 and '<span class="match">match</span>' in like.text
    assert "best test top-1 (papers&#39; protocol)" in like.text  # the statistic, labelled

"""A step may push at most ``NetEntry.max_rows_per_step`` images through the net: batch ×
(1 + uratio × unlabeled views), MixMatch's K views included. Beyond it the worker would be
OOM-killed; the spec refuses it with a message naming the fields and the limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from ssl_core.contract import catalog
from ssl_core.contract.spec import build_spec

CASES = [
    # (spec, rows one step would push)
    ({"algorithm": "fixmatch", "net": "wrn_28_8", "batch_size": 4096, "uratio": 64}, 4096 * 129),
    (
        {"algorithm": "mixmatch", "net": "wrn_28_2", "batch_size": 4096, "uratio": 8,
         "hparams": {"num_augmentations": 8}},
        4096 * 65,
    ),
    ({"algorithm": "mixmatch", "net": "cnn_small", "batch_size": 2048, "uratio": 8,
      "hparams": {"num_augmentations": 4}}, 2048 * 33),
]  # fmt: skip


@pytest.mark.parametrize(("values", "rows"), CASES)
def test_a_step_beyond_the_nets_row_limit_is_refused(values, rows):
    limit = catalog.net(values["net"]).max_rows_per_step
    assert rows > limit
    with pytest.raises(ValueError) as refused:
        build_spec({"dataset": "digits", **values})
    message = str(refused.value)
    assert "batch_size" in message and f"{rows:,}" in message and f"{limit:,}" in message
    if values["algorithm"] == "mixmatch":
        assert "num_augmentations" in message


def test_mixmatch_counts_each_of_its_k_views():
    base = {"algorithm": "mixmatch", "dataset": "digits", "net": "cnn_small", "batch_size": 1024}
    build_spec({**base, "uratio": 8, "hparams": {"num_augmentations": 2}})  # 1024 × 17 fits
    with pytest.raises(ValueError, match="num_augmentations"):
        build_spec({**base, "uratio": 8, "hparams": {"num_augmentations": 8}})  # 1024 × 65


def test_the_api_answers_422_naming_the_field(settings):
    values, _ = CASES[0]
    with TestClient(create_app(settings, pages=False)) as client:
        response = client.post("/api/runs", json={"dataset": "digits", **values})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(e["field"] == "batch_size" and "limit of 4,096" in e["message"] for e in detail)

"""Invalid specs and requests: each is refused (422, 413 or 400) with a message that names the
field and says what is valid, and nothing is stored or queued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.config import Settings
from app.main import create_app
from app.queue import QUEUE
from app.store.db import get_engine
from app.store.models import MetricPoint, Run, Sweep

FIX = {"algorithm": "fixmatch"}
JSON = {"content-type": "application/json"}


def spec(**values: Any) -> dict[str, Any]:
    return {"json": {**FIX, **values}}


def raw(text: str, content_type: str = "application/json") -> dict[str, Any]:
    return {"content": text, "headers": {"content-type": content_type}}


def sweep(**body: Any) -> dict[str, Any]:
    return {"json": {"base": FIX, "grid": {}, **body}}


# (method, path, request, status, field, words the message must contain)
CASES: dict[str, tuple[str, str, dict[str, Any], int, str, str]] = {
    "text for a number": ("POST", "/api/runs", spec(epochs="ten"), 422, "epochs", "valid integer"),
    "fraction for a count": ("POST", "/api/runs", spec(epochs=2.5), 422, "epochs", "fractional"),
    "true for a number": ("POST", "/api/runs", spec(batch_size=True), 422, "batch_size", "must be a number"),
    "negative batch": ("POST", "/api/runs", spec(batch_size=-1), 422, "batch_size", "greater than or equal to 1"),
    "zero steps": ("POST", "/api/runs", spec(iters_per_epoch=0), 422, "iters_per_epoch", "greater than or equal to 1"),
    "zero labels": ("POST", "/api/runs", spec(num_labels=0), 422, "num_labels", "greater than or equal to 1"),
    "huge eval batch": ("POST", "/api/runs", spec(eval_batch_size=10**6), 422, "eval_batch_size", "less than or equal to 4096"),
    "threshold above 1": ("POST", "/api/runs", spec(hparams={"threshold": 1.5}), 422, "hparams.threshold", "less than or equal to 1"),
    "threshold below 0": ("POST", "/api/runs", spec(hparams={"threshold": -0.1}), 422, "hparams.threshold", "greater than or equal to 0"),
    "mixup ratio above 1": ("POST", "/api/runs", {"json": {"algorithm": "mixmatch", "hparams": {"fixed_mixup_lambda": 2}}}, 422, "hparams.fixed_mixup_lambda", "less than or equal to 1"),
    "cutout above 1": ("POST", "/api/runs", spec(hparams={"cutout_fraction": 1.01}), 422, "hparams.cutout_fraction", "less than or equal to 1"),
    "more labels than images": ("POST", "/api/runs", spec(num_labels=5000), 422, "num_labels", "at most 960 labels fit"),
    "unbalanced labels": ("POST", "/api/runs", spec(num_labels=45), 422, "num_labels", "multiple of 10"),
    "no unlabeled images": ("POST", "/api/runs", spec(uratio=0), 422, "uratio", "at least 1 unlabeled"),
    "unknown algorithm": ("POST", "/api/runs", {"json": {"algorithm": "no-such-method"}}, 422, "algorithm", "'fixmatch'"),
    "no algorithm": ("POST", "/api/runs", {"json": {"dataset": "digits"}}, 422, "algorithm", "required"),
    "unknown dataset": ("POST", "/api/runs", spec(dataset="imagenet"), 422, "dataset", "'cifar10'"),
    "a path for a dataset": ("POST", "/api/runs", spec(dataset="../../etc/passwd"), 422, "dataset", "'digits'"),
    "unknown net": ("POST", "/api/runs", spec(net="resnet50"), 422, "net", "'wrn_28_2'"),
    "unknown field": ("POST", "/api/runs", spec(colour="red"), 422, "colour", "valid fields here: name"),
    "another algorithm's field": ("POST", "/api/runs", spec(hparams={"temperature": 0.5}), 422, "hparams.temperature", "valid fields here: threshold"),
    "unknown augmentation": ("POST", "/api/runs", spec(weak_augment=["rotate"]), 422, "weak_augment.0", "'crop'"),
    "NaN": ("POST", "/api/runs", raw('{"algorithm": "fixmatch", "lr": NaN}'), 422, "lr", "finite number"),
    "infinity": ("POST", "/api/runs", raw('{"algorithm": "fixmatch", "lr": Infinity}'), 422, "lr", "finite number"),
    "minus infinity": ("POST", "/api/runs", raw('{"algorithm": "fixmatch", "momentum": -Infinity}'), 422, "momentum", "finite number"),
    "epochs beyond the cap": ("POST", "/api/runs", spec(epochs=10**6), 422, "epochs", "less than or equal to 10000"),
    "steps beyond the cap": ("POST", "/api/runs", spec(epochs=10_000, iters_per_epoch=1000), 422, "epochs", "at most 2,097,152 steps"),
    "seed beyond 32 bits": ("POST", "/api/runs", spec(seed=10**30), 422, "seed", "less than or equal to 2147483647"),
    "long name": ("POST", "/api/runs", spec(name="x" * 201), 422, "name", "at most 200 characters"),
    "unknown preset": ("POST", "/api/runs?preset=fancy", spec(), 422, "preset", "valid presets: paper, tutorial"),
    "long idempotency key": ("POST", "/api/runs", {**spec(), "headers": {"Idempotency-Key": "k" * 201}}, 422, "Idempotency-Key", "at most 200 characters"),
    "oversized body": ("POST", "/api/runs", spec(notes="x" * 2_000_000), 413, "body", "larger than 1,048,576 bytes"),
    "oversized chunked body": ("POST", "/api/runs", {"content": iter([b'{"notes": "' + b"x" * 600_000] * 2 + [b'"}']), "headers": JSON}, 413, "body", "larger than 1,048,576 bytes"),
    "not JSON": ("POST", "/api/runs", raw("algorithm=fixmatch"), 400, "body", "not valid JSON"),
    "a JSON list": ("POST", "/api/runs", {"json": [1, 2]}, 422, "body", "a JSON object"),
    "JSON as text/plain": ("POST", "/api/runs", raw(json.dumps(FIX), "text/plain"), 422, "body", "Content-Type: application/json"),
    "no body": ("POST", "/api/runs", {}, 422, "body", "a JSON object"),
    "sweep beyond the cap": ("POST", "/api/sweeps", sweep(grid={"hparams.threshold": [i / 100 for i in range(100)]}, seeds=[0, 1, 2]), 422, "grid", "at most 200"),
    "sweep over an unknown field": ("POST", "/api/sweeps", sweep(grid={"hparams.nope": [1]}), 422, "hparams.nope", "valid fields here"),
    "sweep with no values": ("POST", "/api/sweeps", sweep(grid={"lr": []}), 422, "grid.lr", "at least one value"),
    "sweep values not a list": ("POST", "/api/sweeps", sweep(grid={"lr": 0.1}), 422, "grid.lr", "valid list"),
    "sweep with a bad value": ("POST", "/api/sweeps", sweep(grid={"lr": [0.1, -1]}), 422, "lr", "greater than 0"),
    "sweep seeds repeated": ("POST", "/api/sweeps", sweep(seeds=[1, 1]), 422, "seeds", "repeated seeds"),
    "sweep base not a spec": ("POST", "/api/sweeps", sweep(base=[1]), 422, "base", "valid dictionary"),
    "page size zero": ("GET", "/api/runs?limit=0", {}, 422, "limit", "greater than or equal to 1"),
    "run id not a number": ("GET", "/api/runs/abc", {}, 422, "run_id", "valid integer"),
    "run id beyond 64 bits": ("DELETE", "/api/runs/99999999999999999999999", {}, 422, "run_id", "from 1 to 2147483647"),
    "compare a non-id": ("GET", "/api/compare?runs=1,a", {}, 422, "runs", "not a run id: 'a'"),
    "compare grouped by nothing known": ("GET", "/api/compare?runs=1&group_by=nope", {}, 422, "group_by", "use 'none' or one of"),
    "one point per series": ("GET", "/api/runs/1/metrics?max_points=1", {}, 422, "max_points", "greater than or equal to 2"),
    "events after a negative epoch": ("GET", "/api/runs/1/events?after=-1", {}, 422, "after", "greater than or equal to 0"),
}  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path_factory.mktemp("home"), redis_url=redis_url)
    with TestClient(create_app(settings, pages=False)) as client:
        client.post("/api/runs", json=FIX)  # run 1, for the requests that name it
        yield client


def stored(client: TestClient) -> tuple[int, ...]:
    settings = client.app.state.settings
    with Session(get_engine(settings)) as session:
        counts = tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Run, Sweep, MetricPoint)
        )
    return (*counts, redis.Redis.from_url(settings.redis_url).llen(QUEUE))


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_request_is_refused_with_the_field_and_changes_nothing(lab: TestClient, case: str):
    method, path, request, status, field, words = CASES[case]
    before = stored(lab)
    response = lab.request(method, path, **request)
    assert response.status_code == status, response.text
    errors = response.json()["detail"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert stored(lab) == before

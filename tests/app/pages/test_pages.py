"""HTML pages through the app: status codes, the run form, actions, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
import redis
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.queue import QUEUE
from tests.app.conftest import add_points, set_run

XSS = "<script>alert('owned')</script>"


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def submit(client: TestClient, **spec) -> int:
    response = client.post("/api/runs", json={"epochs": 3, "iters_per_epoch": 2, **spec})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def field_error(html: str, name: str) -> str | None:
    """The error shown in the form field ``name``'s box, if any."""
    match = re.search(
        rf'<div class="field invalid" data-name="{re.escape(name)}">(.*?)</div>', html, re.S
    )
    if not match:
        return None
    error = re.search(r'<span class="error" role="alert">(.*?)</span>', match.group(1), re.S)
    return unescape(error.group(1)) if error else None


def input_value(html: str, name: str) -> str:
    match = re.search(
        rf'<input id="f-{re.escape(name)}" type="(?:text|number)"[^>]* name="[^"]+" value="([^"]*)"',
        html,
    )
    assert match, f"no input {name}"
    return unescape(match.group(1))


FORM = {
    "algorithm": "fixmatch", "shown_algorithm": "fixmatch", "dataset": "digits",
    "num_labels": "40", "seed": "0", "epochs": "3", "iters_per_epoch": "2", "batch_size": "16",
    "eval_batch_size": "256", "optimizer": "sgd", "lr": "0.03", "lr_schedule": "cosine",
    "momentum": "0.9", "nesterov": "true", "weight_decay": "0.0005", "ema_decay": "0.99",
    "weak_augment.shown": "1", "weak_augment": ["crop"], "device": "cpu", "precision": "auto",
    "hparams.threshold": "0.9", "hparams.unlabeled_weight": "1", "hparams.strong_augment_ops": "2",
    "hparams.cutout_fraction": "0.5", "name": "", "notes": "",
}  # fmt: skip


def test_every_page_renders_and_missing_ones_are_404(pages, engine):
    run_id = submit(pages, algorithm="flexmatch")
    add_points(engine, run_id, "val/top1", [40.0, 60.0])
    sweep = pages.post(
        "/api/sweeps",
        json={"base": {"algorithm": "fixmatch"}, "grid": {"hparams.threshold": [0.9, 0.95]}},
    ).json()
    for url in ["/", "/runs/new", "/sweeps/new", "/sweeps/new?template=mixup_lambda",
                f"/runs/{run_id}", f"/compare?runs={run_id}", "/compare", f"/sweeps/{sweep['id']}"]:  # fmt: skip
        response = pages.get(url)
        assert response.status_code == 200, url
        assert "text/html" in response.headers["content-type"]
        # Everything is served by matchlab itself: no CDN, works offline.
        assert not re.search(r'(src|href)="(https?:)?//', response.text), url
    assert pages.get("/runs/999").status_code == 404
    assert pages.get("/sweeps/999").status_code == 404


def test_plotly_comes_from_the_installed_package(pages):
    response = pages.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert "plotly.js v" in response.text[:200]
    assert pages.get("/static/../config.py").status_code == 404


def test_form_errors_appear_next_to_their_fields_keeping_what_was_typed(pages, settings):
    typed = {**FORM, "name": "my try", "lr": "fast", "hparams.threshold": "1.5", "epochs": "7"}
    response = pages.post("/runs/new", data=typed, follow_redirects=False)
    assert response.status_code == 422
    html = response.text
    assert "valid number" in field_error(html, "lr")
    assert "less than or equal to 1" in field_error(html, "hparams.threshold")
    assert field_error(html, "epochs") is None
    assert input_value(html, "lr") == "fast"
    assert input_value(html, "hparams.threshold") == "1.5"
    assert input_value(html, "name") == "my try"
    assert input_value(html, "epochs") == "7"
    assert re.search(r'<input type="checkbox" name="weak_augment" value="crop" checked>', html)
    assert not re.search(r'value="flip" checked', html)  # unticked stays unticked
    assert pages.get("/api/runs").json()["total"] == 0  # nothing stored
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 0


def test_form_and_api_give_the_same_message(pages):
    # A cross-field rule from ssl_core.contract.spec: labels must split evenly over the 10 classes.
    api = pages.post("/api/runs", json={"algorithm": "fixmatch", "num_labels": 41})
    assert api.status_code == 422
    (api_error,) = api.json()["detail"]
    form = pages.post("/runs/new", data={**FORM, "num_labels": "41"}, follow_redirects=False)
    assert form.status_code == 422
    assert field_error(form.text, api_error["field"]) == api_error["message"]


def test_a_valid_form_stores_and_queues_the_run_and_opens_its_page(pages, settings):
    response = pages.post(
        "/runs/new", data={**FORM, "name": "from the form"}, follow_redirects=False
    )
    assert response.status_code == 303
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    run = pages.get(f"/api/runs/{run_id}").json()
    assert run["name"] == "from the form" and run["status"] == "queued"
    assert run["spec"]["epochs"] == 3 and run["spec"]["hparams"]["threshold"] == 0.9
    assert run["spec"]["weak_augment"] == ["crop"]
    assert run["spec"]["uratio"] == 7  # left blank: the algorithm's default
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 1
    assert "from the form" in pages.get(response.headers["location"]).text


def test_switching_algorithm_shows_its_hyperparameters_and_keeps_the_rest(pages):
    query = "algorithm=mixmatch&shown_algorithm=fixmatch&hparams.threshold=0.5&epochs=7&name=keep"
    html = pages.get(f"/runs/new?{query}").text
    assert 'name="hparams.temperature"' in html and 'name="hparams.threshold"' not in html
    assert input_value(html, "hparams.unlabeled_weight") == "25.0"  # MixMatch's own default
    assert input_value(html, "epochs") == "7" and input_value(html, "name") == "keep"
    assert "sharpening temperature T" in html  # description with the paper's symbol


def test_a_preset_fills_the_form(pages):
    html = pages.get("/runs/new?algorithm=mixmatch&preset=tutorial&name=t").text
    assert input_value(html, "lr") == "0.002" and input_value(html, "epochs") == "5"
    assert '<option value="adam" selected>' in html
    assert input_value(html, "hparams.unlabeled_weight") == "75.0"
    assert input_value(html, "name") == "t"
    # Fields otherwise chosen for the algorithm (blank) show what the preset itself sets.
    assert input_value(html, "ema_decay") == "0.9"
    paper = pages.get("/runs/new?algorithm=fixmatch&preset=paper").text
    assert input_value(paper, "lr") == "0.03" and input_value(paper, "ema_decay") == "0.999"
    assert input_value(pages.get("/runs/new?algorithm=fixmatch").text, "lr") == ""


def test_user_text_is_escaped_everywhere(pages, engine):
    run_id = submit(pages, algorithm="fixmatch", name=XSS, notes=f"notes {XSS}")
    set_run(engine, run_id, status="failed", error=f"Traceback\n{XSS}")
    add_points(engine, run_id, "val/top1", [10.0])
    urls = ["/", f"/runs/{run_id}", f"/compare?runs={run_id}", f"/?q={XSS}"]
    for url in urls:
        html = pages.get(url).text
        assert "<script>alert(" not in html, url
        assert "&lt;script&gt;alert(" in html or "\\u003cscript\\u003e" in html, url
    # In the JSON handed to the charts too (tojson escapes < and >).
    compare = pages.get(f"/compare?runs={run_id}&group_by=none").text
    assert "\\u003cscript\\u003ealert" in compare


def test_runs_table_filters_and_sorts_from_the_url(pages, engine):
    low = submit(pages, algorithm="fixmatch", name="fix low")
    high = submit(pages, algorithm="fixmatch", name="fix high")
    mix = submit(pages, algorithm="mixmatch", name="mix")
    set_run(engine, low, status="succeeded", summary={"best_val_top1": 61.0})
    set_run(engine, high, status="succeeded", summary={"best_val_top1": 83.5})

    def rows(query: str) -> list[int]:
        return [int(i) for i in re.findall(r'<tr data-run="(\d+)"', pages.get(f"/?{query}").text)]

    assert rows("") == [mix, high, low]  # newest first
    assert rows("algorithm=fixmatch") == [high, low]
    assert rows("algorithm=fixmatch&sort=best_val&order=asc") == [low, high]
    assert rows("status=queued") == [mix]
    assert rows("q=high") == [high]
    assert "83.5" in pages.get("/").text


def test_cancel_retry_delete_from_the_pages(pages):
    run_id = submit(pages, algorithm="fixmatch")
    response = pages.post(
        f"/runs/{run_id}/cancel", data={"next": "/?status=queued"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/?status=queued"
    assert pages.get(f"/api/runs/{run_id}").json()["status"] == "cancelled"
    assert pages.post(f"/runs/{run_id}/cancel").status_code == 409  # already finished
    retried = pages.post(
        f"/runs/{run_id}/retry", data={"next": f"/runs/{run_id}"}, follow_redirects=False
    )
    new_id = int(retried.headers["location"].rsplit("/", 1)[1])
    assert new_id != run_id and pages.get(f"/api/runs/{new_id}").json()["status"] == "queued"
    # Redirects stay on this site.
    gone = pages.post(
        f"/runs/{run_id}/delete", data={"next": "//evil.example/"}, follow_redirects=False
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert pages.get(f"/api/runs/{run_id}").status_code == 404


def test_api_docs_are_served_from_installed_files_not_a_cdn(pages):
    client = pages
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        external = re.findall(r"(?:src|href)=[\"'](https?://[^\"']+)", page.text)
        assert external == [], f"{path} loads {external}"
        assets = re.findall(r"(?:src|href)=[\"'](/[^\"']+)", page.text)
        assert assets, page.text[:500]
        for asset in assets:
            assert client.get(asset).status_code == 200, asset


def test_plotly_is_served_compressed_cacheable_and_does_not_block_first_paint(pages):
    page = pages.get(f"/runs/{submit(pages, algorithm='fixmatch')}")
    url = re.search(r'<script defer src="(/static/plotly\.min\.js\?v=\w+)"', page.text)
    assert url, "Plotly must load with defer from a versioned URL"
    full = pages.get(url.group(1), headers={"Accept-Encoding": "gzip"})
    assert full.status_code == 200 and full.headers["content-encoding"] == "gzip"
    assert (
        "immutable" in full.headers["cache-control"]
        and "max-age=31536000" in full.headers["cache-control"]
    )
    assert int(full.headers["content-length"]) < 2_000_000  # 4.8 MB uncompressed
    assert "plotly" in full.text[:2000].lower()  # the client decompressed real Plotly.js
    stale = pages.get("/static/plotly.min.js?v=old")
    assert stale.headers["cache-control"] == "no-cache"
    head = pages.head(url.group(1))
    assert head.status_code == 200 and head.content == b""
    again = pages.get(url.group(1), headers={"If-None-Match": full.headers["etag"]})
    assert again.status_code == 304
    assert pages.head("/static/nothing.js").status_code == 404


def test_number_fields_are_number_inputs_with_the_specs_bounds(pages):
    html = pages.get("/runs/new?algorithm=fixmatch").text
    threshold = re.search(r'<input id="f-hparams.threshold"[^>]*>', html).group(0)
    assert 'type="number"' in threshold and 'step="any"' in threshold
    assert 'min="0.0"' in threshold and 'max="1.0"' in threshold
    epochs = re.search(r'<input id="f-epochs"[^>]*>', html).group(0)
    assert 'type="number"' in epochs and 'step="1"' in epochs and 'min="1"' in epochs
    name = re.search(r'<input id="f-name"[^>]*>', html).group(0)
    assert 'type="text"' in name


def test_the_run_form_ticks_the_datasets_weak_augmentation(pages, engine):
    """Digits are not flipped from the form either: the ticks follow the dataset."""
    digits = pages.get("/runs/new?algorithm=fixmatch&dataset=digits").text
    assert 'value="flip" >' in digits and 'value="crop" checked>' in digits
    fashion = pages.get("/runs/new?algorithm=fixmatch&dataset=fashion_mnist").text
    assert 'value="flip" checked>' in fashion
    # Switched from Fashion-MNIST (crop + flip ticked) to digits without a redraw: the ticks were
    # for the other dataset, so digits' default applies.
    form = {"algorithm": "fixmatch", "shown_algorithm": "fixmatch", "dataset": "digits",
            "shown_dataset": "fashion_mnist", "weak_augment": ["crop", "flip"],
            "weak_augment.shown": "1", "epochs": "1"}  # fmt: skip
    response = pages.post("/runs/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert pages.get(f"/api/runs/{run_id}").json()["spec"]["weak_augment"] == ["crop"]

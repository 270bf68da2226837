"""One source of truth: every place that names algorithms, datasets or nets agrees with
``ssl_core.contract.catalog``, so a new name (or a changed fact) in one place alone fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.pages import figures
from app.pages.assets import algorithms_css
from ssl_core.algorithms import Algorithm
from ssl_core.contract import catalog, charts, metrics
from ssl_core.contract.spec import DEFAULT_UNLABELED_RATIO, PARAMS_BY_ALGORITHM, RunSpec
from ssl_core.registry import algorithm_class, dataset_loader, net_builder

ROOT = Path(__file__).resolve().parents[1]


def _enum(schema: dict, field: str) -> set[str]:
    prop = schema["properties"][field]
    options = prop.get("anyOf", [prop])
    return {value for option in options for value in option.get("enum", [])}


def test_the_spec_allows_exactly_the_catalog_names():
    schema = RunSpec.model_json_schema()
    assert _enum(schema, "algorithm") == set(catalog.ALGORITHMS)
    assert _enum(schema, "dataset") == set(catalog.DATASETS)
    assert _enum(schema, "net") == set(catalog.NETS)
    assert set(PARAMS_BY_ALGORITHM) == set(catalog.ALGORITHMS)


@pytest.mark.parametrize("name", catalog.ALGORITHMS)
def test_each_algorithm_entry_matches_its_spec_model_and_implementation(name):
    entry = catalog.algorithm(name)
    spec = RunSpec.model_validate({"algorithm": name})
    fields = set(PARAMS_BY_ALGORITHM[name].model_fields) - {"algorithm"}
    assert fields == set(entry.params.model_fields)
    assert DEFAULT_UNLABELED_RATIO[name] == entry.default_uratio == spec.uratio
    assert issubclass(algorithm_class(name), Algorithm)
    assert set(entry.unlabeled_views(spec.hparams)) <= {"weak", "strong"}
    assert all(d in metrics.METRIC_KEYS for d in entry.diagnostics)


@pytest.mark.parametrize("name", catalog.NETS)
def test_each_net_builds(name):
    import torch

    net = net_builder(name)(num_classes=7, in_channels=1)
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name", catalog.DATASETS)
def test_each_dataset_has_a_loader_and_a_valid_default_net(name):
    entry = catalog.dataset(name)
    assert callable(dataset_loader(name))
    assert entry.net in catalog.NETS
    RunSpec.model_validate(
        {"algorithm": "supervised", "dataset": name, "num_labels": 10 * entry.num_classes}
    )


def test_colours_are_the_catalogs_everywhere_and_distinct(settings):
    colors = catalog.colors()
    assert figures.ALGORITHM_COLORS == colors
    assert len(set(colors.values())) == len(colors)
    css = algorithms_css()
    for name, color in colors.items():
        assert f"--c-{name}: {color};" in css and f".algo-{name} " in css
    page = TestClient(create_app(settings)).get("/static/algorithms.css")
    assert page.status_code == 200 and page.text == css


def test_command_lines_offer_the_catalog_names():
    from matchlab.cli import build_parser as app_parser
    from ssl_core.cli import build_parser as train_parser

    train = {a.dest: a for a in train_parser()._actions}
    assert list(train["algorithm"].choices) == list(catalog.ALGORITHMS)
    assert list(train["dataset"].choices) == list(catalog.DATASETS)
    submit = app_parser()._subparsers._group_actions[0].choices["submit"]
    choices = {a.dest: a.choices for a in submit._actions}
    assert list(choices["algorithm"]) == list(catalog.ALGORITHMS)


def test_readme_documents_every_algorithm_and_hyperparameter():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", readme, re.M))
    for name in catalog.ALGORITHMS:
        assert name in rows, f"README's hyperparameter table lacks {name}"
        text, parents = rows[name], re.findall(r"(\w+)'s", rows[name])
        text += " ".join(rows.get(p.lower(), "") for p in parents)
        missing = [f for f in catalog.algorithm(name).params.model_fields if f"`{f}`" not in text]
        assert not missing, f"README's row for {name} lacks {missing}"


def test_every_metric_row_names_a_run_page_chart_that_exists():
    for row in metrics.METRIC_KEYS.values():
        assert not row.chart or row.chart in charts.CHART_IDS, (row.name, row.chart)
        assert row.color in charts.COLORS, (row.name, row.color)

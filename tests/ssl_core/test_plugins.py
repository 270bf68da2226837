"""An algorithm from another installed package (entry point group ``matchlab.algorithms``)
joins the catalog, the spec, the forms and the colours, and trains like a built-in one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin_support import ROOT, env_with, install_example_plugin

# Runs in a child process: the catalog is built once per process from the installed entry points.
CHECKS = r"""
import json, sys
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ssl_core.contract import catalog
from ssl_core.contract.spec import RunSpec
from ssl_core.contract.spec_errors import format_errors
from app.main import create_app
from app.pages.assets import algorithms_css

entry = catalog.algorithm("pseudolabel_plus")
client = TestClient(create_app())
form = client.get("/runs/new", params={"algorithm": "pseudolabel_plus"})
sweep = client.get("/sweeps/new", params={"template": "all_algorithms"})
try:
    RunSpec.model_validate({"algorithm": "pseudolabel_plus", "hparams": {"threshold": 2}})
    bad = None
except ValidationError as error:
    bad = format_errors(error)
facts = {
    "builtin_and_plugin": list(catalog.ALGORITHMS),
    "source": entry.source,
    "torch_loaded_by_web": "torch" in sys.modules,
    "form_status": form.status_code,
    "form_has_field": "confidence_weighting" in form.text,
    "sweep_offers_it": "pseudolabel_plus" in sweep.text,
    "css": f"--c-pseudolabel_plus: {entry.color};" in algorithms_css(),
    "default_uratio": RunSpec.model_validate({"algorithm": "pseudolabel_plus"}).uratio,
    "bad_threshold": bad,
}
from ssl_core import train
summary = train({"algorithm": "pseudolabel_plus", "dataset": "digits", "num_labels": 40,
                 "epochs": 2, "iters_per_epoch": 3, "batch_size": 8, "device": "cpu",
                 "hparams": {"threshold": 0.5}}, out_dir=sys.argv[1])
facts["epochs"] = summary["epochs"]
facts["metrics"] = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_example_plugin(tmp_path_factory.mktemp("plugin") / "site")


def test_installed_plugin_is_listed_validated_rendered_and_trained(plugin_path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CHECKS, str(tmp_path / "run")],
        env={**env_with(plugin_path), "MATCHLAB_HOME": str(tmp_path / "home")},
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["builtin_and_plugin"][-1] == "pseudolabel_plus"
    assert "fixmatch" in facts["builtin_and_plugin"]
    assert facts["source"] == "matchlab-pseudolabel-plus"
    assert facts["torch_loaded_by_web"] is False  # the declaration is torch-free
    assert facts["form_status"] == 200 and facts["form_has_field"]
    assert facts["sweep_offers_it"] and facts["css"]
    assert facts["default_uratio"] == 2
    assert facts["bad_threshold"].startswith("hparams.threshold:")
    assert facts["epochs"] == 2
    last = facts["metrics"][-1]
    assert 0.0 <= last["train/mask_ratio"] <= 1.0 and last["train/loss_u"] >= 0.0
    assert 0.0 <= last["test/top1"] <= 100.0


def test_without_the_plugin_the_name_is_refused_with_the_valid_ones():
    from pydantic import ValidationError

    from ssl_core.contract.spec import RunSpec
    from ssl_core.contract.spec_errors import format_errors

    with pytest.raises(ValidationError) as caught:
        RunSpec.model_validate({"algorithm": "pseudolabel_plus"})
    message = format_errors(caught.value)
    assert message.startswith("algorithm:") and "fixmatch" in message


# The example's step as it was written for the earlier API: the statistics made by the plugin
# with ``pseudo_label_stats``, and a positional ``StepOutput``.
EARLIER_STEP = """
import torch
import torch.nn.functional as F

from ssl_core.algorithms.base import Algorithm, StepOutput, pseudo_label_stats


class PseudoLabelPlus(Algorithm):
    def step(self, model, batch, step):
        b = batch.x.shape[0]
        logits = model(torch.cat([batch.x, *batch.u_views]))
        logits_a, logits_b = logits[b:].chunk(2)
        loss_x = F.cross_entropy(logits[:b].float(), batch.y)
        confidence, pseudo_labels = F.softmax(logits_a.detach().float(), dim=1).max(dim=1)
        mask = (confidence >= self.hp.threshold).float()
        loss_u = (mask * F.cross_entropy(logits_b.float(), pseudo_labels, reduction="none")).mean()
        used, correct = pseudo_label_stats(mask, pseudo_labels, batch.u_true)
        weight = torch.full((), self.hp.unlabeled_weight, device=self.device)
        return StepOutput(loss_x + loss_u, loss_x, loss_u, weight, used, correct, len(mask))
"""
TRAIN_ONE = r"""
import sys
from ssl_core import train
train({"algorithm": "pseudolabel_plus", "dataset": "digits", "epochs": 1, "iters_per_epoch": 1,
       "batch_size": 8, "device": "cpu"}, out_dir=sys.argv[1])
"""


def test_a_plugin_written_for_the_earlier_step_api_fails_once_saying_what_changed(tmp_path):
    earlier = {"matchlab_pseudolabel_plus/algorithm.py": EARLIER_STEP}
    site = install_example_plugin(tmp_path / "plugin" / "site", earlier)
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_ONE, str(tmp_path / "run")],
        env=env_with(site), cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode != 0
    # One error, the last line of the traceback: which name went, what to write instead, where.
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ssl_core.algorithms.base.pseudo_label_stats:"), last
    assert "StepOutput by keyword" in last and "docs/ALGORITHMS.md" in last
    assert result.stderr.count("Traceback") == 1

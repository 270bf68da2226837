"""The slot plan: how many trainings a worker holds at once and each one's thread budget."""

from __future__ import annotations

import subprocess
import sys

import pytest

from matchlab.cli import build_parser
from worker.slots import (
    MAX_GPU_SLOTS,
    THREADS_ENV,
    plan_slots,
    pool_args,
    waiting_nets,
)


def test_small_nets_get_one_thread_each_and_a_slot_per_core():
    plan = plan_slots(cores=2, nets=["cnn_small"])
    assert (plan.slots, plan.threads, plan.device) == (2, 1, "cpu")
    assert plan_slots(cores=16, nets=[]).slots == 16  # empty queue: the default dataset's net


def test_the_largest_waiting_net_sets_the_threads_per_run():
    plan = plan_slots(cores=8, nets=["cnn_small", "wrn_28_2"])
    assert (plan.slots, plan.threads) == (4, 2)
    assert plan_slots(cores=2, nets=["wrn_28_8"]).slots == 1  # never fewer than one slot
    assert plan_slots(cores=2, nets=["wrn_28_8"]).threads == 2  # nor more threads than cores


def test_asked_for_slots_share_the_cores():
    assert (plan_slots(cores=2, nets=[], requested=1).threads) == 2
    plan = plan_slots(cores=8, nets=["wrn_28_8"], requested=3)
    assert (plan.slots, plan.threads, plan.reason) == (3, 2, "asked for with --slots")
    assert plan_slots(cores=2, nets=[], requested=4).threads == 1
    with pytest.raises(ValueError, match="--slots"):
        plan_slots(cores=2, nets=[], requested=0)


def test_asked_for_threads_keep_the_slot_count():
    plan = plan_slots(cores=2, nets=["cnn_small"], threads=1, requested=1)
    assert (plan.slots, plan.threads) == (1, 1)
    assert plan_slots(cores=4, nets=["cnn_small"], threads=2).slots == 4
    with pytest.raises(ValueError, match="--threads"):
        plan_slots(cores=2, nets=[], threads=0)


def test_on_a_gpu_free_memory_over_the_net_estimate_sets_the_slots():
    from ssl_core.contract import catalog

    per_run = catalog.net("wrn_28_2").gpu_gib
    plan = plan_slots(cores=16, nets=["wrn_28_2"], cuda_free_gib=per_run * 2.5)
    assert (plan.slots, plan.threads, plan.device) == (2, 8, "cuda")
    assert plan_slots(cores=16, nets=["cnn_small"], cuda_free_gib=1000).slots == MAX_GPU_SLOTS
    assert plan_slots(cores=16, nets=["wrn_28_8"], cuda_free_gib=1).slots == 1
    assert "estimate" in plan.reason


def test_waiting_nets_fall_back_to_the_dataset_default():
    specs = [{"dataset": "cifar10"}, {"net": "cnn_small"}, {}, {"dataset": "nope"}]
    assert waiting_nets(specs) == ["wrn_28_2", "cnn_small", "cnn_small"]


def test_one_slot_is_the_solo_pool_more_is_prefork():
    assert pool_args(plan_slots(cores=2, nets=[], requested=1)) == [
        "--pool=solo",
        "--concurrency=1",
    ]
    assert pool_args(plan_slots(cores=2, nets=[])) == ["--pool=prefork", "--concurrency=2"]


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_the_cli_refuses_a_bad_slot_count(bad, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--slots", bad])
    assert "--slots: must be a whole number ≥ 1" in capsys.readouterr().err


def test_a_training_process_takes_its_thread_budget():
    code = (
        "import torch; from worker.slots import apply_thread_budget; "
        "print(apply_thread_budget(), torch.get_num_threads())"
    )
    env = {THREADS_ENV: "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "1"]

"""Compare's environment warning: fields that may explain a difference in results."""

from app.pages.compare import differing_environment


def test_thread_count_is_named_but_slot_host_and_worker_are_not():
    # A different thread count changes float sums and so results (BENCHMARKS.md, study
    # throughput); the slot, host and worker never do.
    one = {"torch": "2.14.1", "torch_threads": 1, "slot": 1, "host": "a", "worker": "w1@a"}
    two = {"torch": "2.14.1", "torch_threads": 2, "slot": 2, "host": "b", "worker": "w2@b"}
    runs = [{"environment": one}, {"environment": two}]
    assert differing_environment(runs) == ["torch_threads"]
    assert differing_environment([{"environment": one}, {"environment": dict(one)}]) == []

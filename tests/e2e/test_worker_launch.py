"""A one-slot worker started in the background (``setsid matchlab worker --slots 1 &``) outlives
the process that launched it: only a worker's pool processes are tied to their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, Stack, tiny_spec
from tests.e2e.test_slots import _alive

pytestmark = pytest.mark.e2e

# The launcher starts the worker in a session of its own, prints its pid, and exits when told
# (once the worker is up), as a shell script that ran ``setsid matchlab worker --slots 1 &`` does.
LAUNCHER = """
import subprocess, sys
log = open(sys.argv[1], "ab")
worker = subprocess.Popen(
    [sys.executable, "-m", "matchlab.cli", "worker", "--loglevel", "INFO", "--slots", "1"],
    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
)
print(worker.pid, flush=True)
sys.stdin.read()
"""


def test_a_one_slot_worker_survives_its_launcher(stack: Stack):
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(stack.home / "worker-launched.log")],
        cwd=ROOT, env=stack.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    worker_pid = int(launcher.stdout.readline())
    try:
        stack.wait_for(lambda: stack._health()["workers"], "the worker to report in", 60)
        launcher.stdin.close()  # the launcher exits now
        assert launcher.wait(timeout=30) == 0
        run_id = stack.client.submit(tiny_spec(epochs=1))["id"]
        finished = lambda: stack.client.get(run_id)["status"] == "succeeded"  # noqa: E731
        stack.wait_for(lambda: finished() or not _alive(worker_pid), "the run to finish", 240)
        assert _alive(worker_pid), f"the worker died with its launcher\n{stack.logs()}"
        assert finished()  # it consumed the queue, and is still there for the next run
    finally:
        launcher.kill()
        launcher.wait(timeout=10)
        try:
            os.killpg(worker_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

"""Study throughput through the real stack: the seed's λu ablation, one slot × all threads against
N slots × fewer threads, alternately, in one run (issue 15).

Each round starts a ``matchlab worker`` with the round's slot count against one web server, one
SQLite store and one Redis, submits the sweep (MixMatch on digits-40, λu × seeds), and times
from submission to the last run stored as succeeded. Rounds alternate (1-slot, N-slot, 1-slot,
...), so a burst of outside load hits both sides; the figure is the median of the per-pair
ratios of runs/hour, with every pair shown.

The same-metrics check compares every stored point of every run (all metric keys, all epochs)
with the same (λu, seed) run elsewhere, bit for bit: each packed run against that run trained
alone (one slot) with the same thread count — a last, untimed round — and each round against the
first round of its set-up. Exit status 1 if any differs. For information it prints how far the
1-thread and 2-thread runs drift apart: a different thread count sums floats in another order,
and training amplifies the last bits; that is the thread count's doing, not packing's, and the
thread count is part of each run's environment record.

    .venv/bin/python bench/study_speed.py                      # 10 runs, 2 pairs of rounds
    .venv/bin/python bench/study_speed.py --pairs 3 --slots 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import Client  # noqa: E402
from app.stack.redis_server import free_port, start_redis  # noqa: E402
from worker.slots import usable_cores  # noqa: E402

LAMBDAS = (0.0, 25.0, 50.0, 75.0, 100.0)  # the seed tutorial's λu ablation


def base_spec(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "algorithm": "mixmatch",
        "dataset": "digits",
        "num_labels": 40,
        "net": "cnn_small",
        "epochs": args.epochs,
        "iters_per_epoch": args.iters,
        "device": args.device,
    }


class Stack:
    """A web server and a store for the whole benchmark; one worker per round."""

    def __init__(self, home: Path, redis_url: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MATCHLAB_HOME": str(home),
            "MATCHLAB_REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
        }
        for key in ("MATCHLAB_DATABASE_URL", "MATCHLAB_API_TOKEN", "OMP_NUM_THREADS"):
            self.env.pop(key, None)
        self.web = self._spawn("web", "--port", str(self.port), log="web")
        self._wait(lambda: self._health() is not None, "the web server", 60)
        self.client = Client(self.url)

    def _spawn(self, *args: str, log: str) -> subprocess.Popen:
        with open(self.home / f"{log}.log", "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "matchlab.cli", *args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def _health(self) -> dict | None:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=5).json()
        except httpx.HTTPError:
            return None

    def _wait(self, condition: Any, what: str, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}; logs in {self.home}")

    def round(
        self, slots: int, threads: int, spec: dict, seeds: list[int], label: str
    ) -> dict[str, Any]:
        """Start a worker with ``slots`` slots of ``threads`` threads, train the sweep, stop it."""
        before = {w["name"] for w in self._health()["workers"]}
        worker = self._spawn(
            "worker", "--slots", str(slots), "--threads", str(threads), "--loglevel", "WARNING",
            log=label,
        )  # fmt: skip
        self._wait(lambda: {w["name"] for w in self._health()["workers"]} - before, "worker", 120)
        started = time.monotonic()
        sweep = self.client.sweep(spec, {"hparams.unlabeled_weight": list(LAMBDAS)}, seeds=seeds)
        ids = [run["id"] for run in sweep["runs"]]

        def done() -> list[dict] | None:
            runs = self.client.runs(sweep=sweep["id"], limit=len(ids))["items"]
            failed = [r for r in runs if r["status"] in ("failed", "cancelled")]
            if failed:
                raise SystemExit(f"run {failed[0]['id']} {failed[0]['status']}: {failed[0]}")
            return runs if all(r["status"] == "succeeded" for r in runs) else None

        runs = self._wait(done, f"round {label}", 3 * 3600)
        seconds = time.monotonic() - started
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
        return {
            "slots": slots, "threads": threads, "seconds": seconds, "runs": len(ids),
            "ids": ids, "items": runs, "label": label,
            "rate": 3600 * len(ids) / seconds,
        }  # fmt: skip

    @functools.cache  # noqa: B019 (one Stack per benchmark; each run's points fetched once)
    def points(self, run_id: int) -> dict[str, list[float]]:
        series = self.client.metrics(run_id)
        # Throughput and timing keys measure the machine, not the model.
        return {
            k: v["value"] for k, v in series.items() if not k.startswith(("time/", "train/imgs"))
        }

    def close(self) -> None:
        self.client.close()
        os.killpg(self.web.pid, signal.SIGTERM)
        self.web.wait(timeout=30)


def differences(stack: Stack, a: dict, b: dict) -> dict[str, float]:
    """Largest absolute difference per metric key between two rounds' runs of the same (λu,
    seed), over every stored point; ``inf`` when the keys differ."""
    worst: dict[str, float] = {}
    runs_b = {run_key(run): run["id"] for run in b["items"]}
    for run in a["items"]:
        ref, got = stack.points(run["id"]), stack.points(runs_b[run_key(run)])
        if ref.keys() != got.keys():
            worst["<keys>"] = float("inf")
            continue
        for key in ref:
            gaps = (abs(x - y) for x, y in zip(ref[key], got[key], strict=True))
            worst[key] = max(worst.get(key, 0.0), max(gaps, default=0.0))
    return worst


def same_metrics(stack: Stack, rounds: list[dict], alone: dict) -> bool:
    """Packing changes no result: every packed run equals, bit for bit in every stored point, the
    same run trained alone with the same thread count; rounds of one set-up repeat bit for bit.
    Printed for information: how far a different thread count moves the same runs."""
    ok = True
    checks = [(r, alone, "trained alone, same threads") for r in rounds if r["slots"] > 1]
    firsts: dict[tuple[int, int], dict] = {}
    for r in rounds:
        first = firsts.setdefault((r["slots"], r["threads"]), r)
        if first is not r:
            checks.append((r, first, f"first {r['slots']}-slot round"))
    for result, reference, what in checks:
        worst = differences(stack, result, reference)
        bad = sorted(k for k, v in worst.items() if v > 0)
        ok = ok and not bad
        print(
            f"same metrics, {result['label']} vs {reference['label']} ({what}): "
            + (f"FAILED, differing: {bad[:6]}" if bad else "passed, bit for bit")
        )
    one, packed = rounds[0], rounds[1]
    worst = differences(stack, one, packed)
    tops = {k: v for k, v in worst.items() if k.endswith("top1")}
    print(
        f"for information, {one['threads']} threads vs {packed['threads']} (float sums in another "
        f"order, amplified by training): largest |Δ| "
        + ", ".join(f"{k} {v:.3g}" for k, v in sorted(tops.items()))
        + f", train/loss {worst.get('train/loss', 0):.3g}"
    )
    return ok


def run_key(run: dict) -> tuple[float, int]:
    return (run["spec"]["hparams"]["unlabeled_weight"], run["spec"]["seed"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=usable_cores(), help="the packed side")
    parser.add_argument("--pairs", type=int, default=2, help="pairs of rounds (1-slot, N-slot)")
    parser.add_argument("--seeds", default="0,1", help="seeds per λu (5 λu values)")
    parser.add_argument("--epochs", type=int, default=3)  # 300 steps: half a default digits run
    parser.add_argument("--iters", type=int, default=100, help="steps per epoch")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    cores = usable_cores()

    home = Path(tempfile.mkdtemp(prefix="matchlab-study-speed-"))
    # A Redis of its own: no other worker on this machine may take the benchmark's runs.
    port = free_port()
    redis_process = start_redis(port, home / "redis", persist=False)
    redis_url = f"redis://127.0.0.1:{port}/0"
    print(
        f"# study_speed {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC | {cores} cores | "
        f"load {os.getloadavg()[0]:.2f} | MixMatch digits-40, λu {list(LAMBDAS)} × seeds {seeds} "
        f"= {len(LAMBDAS) * len(seeds)} runs of {args.epochs}×{args.iters} steps on {args.device}"
    )
    stack = Stack(home, redis_url)
    rounds: list[dict] = []
    try:
        sides = [(1, cores), (args.slots, max(1, cores // args.slots))]
        for pair, (slots, threads) in itertools.product(range(args.pairs), sides):
            label = f"pair{pair + 1}-{slots}slot"
            result = stack.round(slots, threads, base_spec(args), seeds, label)
            rounds.append(result)
            print(
                f"{label:<14} {slots} slot(s) × {threads} thread(s): {result['seconds']:7.1f} s, "
                f"{result['rate']:6.1f} runs/hour",
                flush=True,
            )

        ratios = [b["rate"] / a["rate"] for a, b in zip(rounds[::2], rounds[1::2], strict=True)]
        print(
            f"\nruns/hour, {args.slots} slots × {sides[1][1]} thread(s) ÷ 1 slot × {cores} "
            f"threads: median {statistics.median(ratios):.2f}× "
            f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)})\n"
        )
        # The reference for the same-metrics check: the runs trained one at a time with the
        # packed runs' thread count (not timed into the ratio).
        alone = stack.round(1, sides[1][1], base_spec(args), seeds, "alone")
        print(f"alone          1 slot(s) × {sides[1][1]} thread(s): {alone['seconds']:7.1f} s")
        return 0 if same_metrics(stack, rounds, alone) else 1
    finally:
        stack.close()
        redis_process.terminate()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

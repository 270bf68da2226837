"""Target 5: matchlab's run store against an MLflow tracking server, same workload, same run.

1. Ingestion: R runs × E epochs × 12 metric keys, one epoch per transaction. matchlab writes as
   the worker does (``worker.sink.RunSink.on_epoch_end`` on a run claimed with
   ``worker.runner.claim_run``: points + progress + summary in one transaction, then a Redis
   notification); MLflow gets one ``runs/log-batch`` request per epoch. The two are interleaved
   in blocks of epochs so load on this shared machine hits both. Target: >= 20x MLflow's points/s.
2. Compare read: full histories of 3 keys for all R runs over HTTP on 127.0.0.1 — matchlab's
   ``GET /api/compare`` on a live uvicorn, MLflow's ``metrics/get-history`` per run and key (what
   ``MlflowClient.get_metric_history`` does). Target: <= 0.2x MLflow's time.
3. ``/compare`` (the page) and ``/api/compare`` for 50 runs × 1,000 epochs (12 keys stored, the
   page's 3 default keys read), timed in-process (ASGI, no socket): server time < 300 ms.

    .venv/bin/python bench/store_vs_mlflow.py [--mlflow-venv /tmp/mlflow-venv] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from common import machine_line, verdict
from fastapi.testclient import TestClient
from mlflow_side import MlflowServer, ensure_mlflow, mlflow_version
from sqlalchemy import insert
from sqlmodel import Session

from app.config import Settings
from app.main import create_app
from app.stack.redis_server import free_port, start_redis
from app.store import crud
from app.store.db import get_engine
from app.store.models import MetricPoint
from ssl_core.contract.callbacks import EpochEnd, TrainStart
from worker.runner import claim_run
from worker.sink import RunSink

KEYS = (
    "train/loss", "train/loss_x", "train/loss_u", "train/unsup_weight", "train/lr",
    "train/mask_ratio", "train/pseudo_label_acc", "train/imgs_per_s",
    "val/loss", "val/top1", "test/loss", "test/top1",
)  # fmt: skip
READ_KEYS = ("val/top1", "test/top1", "train/loss")  # also the compare page's defaults
BLOCK = 10  # epochs per interleaved block


SUMMARY = {"best_val_top1": 50.0, "best_epoch": 1}  # the sink stores the trainer's; any will do


def epoch_metrics(rng: np.random.Generator) -> dict[str, float]:
    return {key: float(v) for key, v in zip(KEYS, rng.random(len(KEYS)), strict=True)}


def new_runs(settings: Settings, count: int) -> list[int]:
    engine = get_engine(settings)
    with Session(engine) as session:
        ids = [
            crud.create_run(session, {"algorithm": "fixmatch", "seed": i}).id for i in range(count)
        ]
    for run_id in ids:
        claim_run(engine, run_id, "bench")
    return ids


def ingest(settings: Settings, mlflow: MlflowServer | None, runs: int, epochs: int) -> dict:
    ids = new_runs(settings, runs)
    sinks = [RunSink(i, get_engine(settings), settings.redis_url) for i in ids]
    for sink in sinks:
        sink.on_train_start(TrainStart(epochs * 1024, 0, 0, "cpu", 0))
    ml_runs = mlflow.create_runs(runs) if mlflow else []
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for start in range(1, epochs + 1, BLOCK):
        block = [
            (e, [epoch_metrics(rng) for _ in ids])
            for e in range(start, min(start + BLOCK, epochs + 1))
        ]
        t = time.perf_counter()
        for epoch, metrics in block:
            for sink, m in zip(sinks, metrics, strict=True):
                sink.on_epoch_end(EpochEnd(epoch, epoch * 1024, m, SUMMARY))
        ours.append(time.perf_counter() - t)
        if mlflow:
            t = time.perf_counter()
            for epoch, metrics in block:
                for run_id, m in zip(ml_runs, metrics, strict=True):
                    mlflow.log_epoch(run_id, epoch, m)
            theirs.append(time.perf_counter() - t)
    return {"ids": ids, "ml_runs": ml_runs, "ours": ours, "theirs": theirs}


def serve(settings: Settings, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "MATCHLAB_HOME": str(settings.home),
        "MATCHLAB_REDIS_URL": settings.redis_url,
    }
    cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(cmd, env=env)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError("matchlab's web server did not answer")


def read_ours(client: httpx.Client, ids: list[int], epochs: int) -> float:
    t = time.perf_counter()
    response = client.get(
        "/api/compare", params={"runs": ",".join(map(str, ids)), "keys": ",".join(READ_KEYS)}
    )
    response.raise_for_status()
    seconds = time.perf_counter() - t
    runs = response.json()["runs"]
    assert all(len(r["series"][k]["value"]) == epochs for r in runs for k in READ_KEYS)
    return seconds


def read_theirs(mlflow: MlflowServer, runs: list[str], epochs: int) -> float:
    t = time.perf_counter()
    histories = [mlflow.history(run, key) for run in runs for key in READ_KEYS]
    seconds = time.perf_counter() - t
    assert all(len(h) == epochs for h in histories)
    return seconds


def bulk_points(settings: Settings, runs: int, epochs: int) -> list[int]:
    """A big store, written quickly in one executemany per run (this ingestion is not timed)."""
    ids = new_runs(settings, runs)
    rng = np.random.default_rng(1)
    with Session(get_engine(settings)) as session:
        for run_id in ids:
            rows = [
                {"run_id": run_id, "key": k, "epoch": e, "step": e * 1024,
                 "wall_time": 1e9 + e, "value": float(v)}
                for e in range(1, epochs + 1)
                for k, v in zip(KEYS, rng.random(len(KEYS)), strict=True)
            ]  # fmt: skip
            session.execute(insert(MetricPoint), rows)
        session.commit()
    return ids


def big_compare(
    settings: Settings, runs: int, epochs: int, repeats: int
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds (this process, all threads: insensitive to waiting for a core
    on a shared machine) per request."""
    ids = ",".join(map(str, bulk_points(settings, runs, epochs)))
    urls = {
        "/api/compare": f"/api/compare?runs={ids}&keys={','.join(READ_KEYS)}",
        "/compare": f"/compare?runs={ids}",
    }
    out = {}
    # The app answers only to its allowed hosts (127.0.0.1 by default), not to "testserver".
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for name, url in urls.items():
            client.get(url).raise_for_status()  # warm-up
            times, cpu = [], []
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                client.get(url).raise_for_status()
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            out[name] = (statistics.median(times), statistics.median(cpu))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--big-runs", type=int, default=50)
    p.add_argument("--big-epochs", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5, help="timed reads of each kind")
    p.add_argument("--mlflow-venv", type=Path, default=Path("/tmp/mlflow-venv"))
    p.add_argument("--no-mlflow", action="store_true", help="matchlab's side only")
    p.add_argument(
        "--profile", action="store_true", help="cProfile matchlab's ingestion and compare"
    )
    p.add_argument("--quick", action="store_true", help="3 runs × 20 epochs, 5 × 50 big")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.epochs, args.big_runs, args.big_epochs, args.repeats = 3, 20, 5, 50, 2
    import torch

    print(f"# store_vs_mlflow: {machine_line(torch.device('cpu'))}")
    with tempfile.TemporaryDirectory(prefix="matchlab-store-bench-") as tmp:
        work = Path(tmp)
        redis_port = free_port()
        redis = start_redis(redis_port, work / "redis", persist=False)
        settings = Settings(home=work / "home", redis_url=f"redis://127.0.0.1:{redis_port}/0")
        mlflow = None
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                ingest(settings, None, args.runs, args.epochs)
            print(f"# cProfile of RunSink ingestion: {args.runs} runs × {args.epochs} epochs")
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
            big = Settings(home=work / "big", redis_url=settings.redis_url)
            ids = bulk_points(big, args.big_runs, args.big_epochs)
            from app.domain.compare import compare  # the route's function, in this thread

            with Session(get_engine(big)) as session, cProfile.Profile() as prof:
                compare(session, ids, None, list(READ_KEYS), None, None, "epoch")
            print(f"# cProfile of /api/compare's function, {args.big_runs} × {args.big_epochs}")
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
            redis.terminate()
            return 0
        if not args.no_mlflow:
            exe = ensure_mlflow(args.mlflow_venv)
            print(f"# {mlflow_version(exe)}, SQLite backend store, 127.0.0.1")
            mlflow = MlflowServer(exe, work / "mlflow", free_port())
        web = None
        try:
            done = ingest(settings, mlflow, args.runs, args.epochs)
            points = args.runs * args.epochs * len(KEYS)
            ours_rate = points / sum(done["ours"])
            print(
                f"\n## {args.runs} runs × {args.epochs} epochs × {len(KEYS)} keys = {points:,} points"
            )
            print("| workload | matchlab | MLflow | matchlab vs MLflow | verdict |")
            print("|---|---|---|---|---|")
            if mlflow:
                theirs_rate = points / sum(done["theirs"])
                speedup = ours_rate / theirs_rate
                blocks = statistics.median(
                    t / o for o, t in zip(done["ours"], done["theirs"], strict=True)
                )
                print(f"| ingestion, points/s | {ours_rate:,.0f} | {theirs_rate:,.0f} "
                      f"| {speedup:.1f}x (median of {len(done['ours'])} blocks {blocks:.1f}x) "
                      f"| {verdict(speedup, 20, True)} |")  # fmt: skip
            else:
                print(f"| ingestion, points/s | {ours_rate:,.0f} | not run | | |")
            web_port = free_port()
            web = serve(settings, web_port)
            with httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=120) as client:
                read_ours(client, done["ids"], args.epochs)
                if mlflow:
                    read_theirs(mlflow, done["ml_runs"], args.epochs)
                ours_t, theirs_t = [], []
                for _ in range(args.repeats):
                    ours_t.append(read_ours(client, done["ids"], args.epochs))
                    if mlflow:
                        theirs_t.append(read_theirs(mlflow, done["ml_runs"], args.epochs))
            label = f"compare read ({len(READ_KEYS)} keys × {args.runs} runs), s (median of {args.repeats})"
            if mlflow:
                ratio = statistics.median(ours_t) / statistics.median(theirs_t)
                print(f"| {label} | {statistics.median(ours_t):.3f} | {statistics.median(theirs_t):.3f} "
                      f"| {ratio:.3f}x the time | {verdict(ratio, 0.2, False)} |")  # fmt: skip
            else:
                print(f"| {label} | {statistics.median(ours_t):.3f} | not run | | |")
        finally:
            if web:
                web.terminate()
                web.wait(timeout=20)
            if mlflow:
                mlflow.stop()
        big = big_compare(
            Settings(home=work / "big", redis_url=settings.redis_url),
            args.big_runs, args.big_epochs, args.repeats,
        )  # fmt: skip
        print(f"\n## {args.big_runs} runs × {args.big_epochs} epochs ({len(KEYS)} keys stored), "
              f"server time in-process, median of {args.repeats}")  # fmt: skip
        print("| request | ms | cpu ms | verdict |")
        print("|---|---|---|---|")
        for name, (seconds, cpu) in big.items():
            print(f"| {name} | {seconds * 1000:.0f} | {cpu * 1000:.0f} "
                  f"| {verdict(seconds * 1000, 300, False)} |")  # fmt: skip
        redis.terminate()
        redis.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

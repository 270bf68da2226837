"""The MLflow half of bench/store_vs_mlflow.py: a tracking server in its own virtualenv.

The server is MLflow's own (``mlflow server``, SQLite backend store, bound to 127.0.0.1). The
workload talks to its REST API directly with httpx (keep-alive), not through the mlflow client
library, so MLflow is timed without client-side overhead: the comparison favours MLflow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

API = "/api/2.0/mlflow"


def ensure_mlflow(venv: Path) -> Path:
    """The venv's ``mlflow`` executable, creating the venv and installing MLflow if needed."""
    exe = venv / "bin" / "mlflow"
    if not exe.exists():
        print(f"# installing mlflow into {venv} (pip install mlflow) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "mlflow"]
        subprocess.run(pip, check=True)
    return exe


def mlflow_version(exe: Path) -> str:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:port with a SQLite store under ``workdir``."""

    def __init__(self, exe: Path, workdir: Path, port: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(workdir / "mlflow-server.log", "w")  # noqa: SIM115 — closed in stop()
        cmd = [
            str(exe), "server",
            "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--default-artifact-root", str(workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        # Tracking only: MLflow 3 also starts a job runner and seven huey consumers by default,
        # which would take CPU from both sides of the benchmark on this 2-core machine.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.client = httpx.Client(base_url=self.url, timeout=120)
        self._wait()

    def _wait(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited; see {self.log.name}")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not answer in {timeout} s; see {self.log.name}")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(API + path, json=body)
        response.raise_for_status()
        return response.json()

    def create_runs(self, count: int) -> list[str]:
        experiment = self.post("/experiments/create", {"name": f"bench-{time.time_ns()}"})
        runs = []
        for i in range(count):
            body = {"experiment_id": experiment["experiment_id"], "run_name": f"run {i}"}
            runs.append(self.post("/runs/create", body)["run"]["info"]["run_id"])
        return runs

    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, float]) -> None:
        """One epoch's metrics in one log-batch request (one transaction in the store)."""
        now = int(time.time() * 1000)
        batch = [
            {"key": k, "value": v, "timestamp": now, "step": epoch} for k, v in metrics.items()
        ]
        self.post("/runs/log-batch", {"run_id": run_id, "metrics": batch})

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """The full history of one metric of one run (what MlflowClient.get_metric_history reads)."""
        points, token = [], None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": 25000}
            if token:
                params["page_token"] = token
            response = self.client.get(API + "/metrics/get-history", params=params)
            response.raise_for_status()
            body = response.json()
            points += body.get("metrics", [])
            token = body.get("next_page_token")
            if not token:
                return points

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

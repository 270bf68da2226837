"""A small HTTP client for matchlab's REST API, for scripts and notebooks.

from app.client import Client
lab = Client("http://127.0.0.1:8000")
run = lab.submit({"algorithm": "fixmatch", "num_labels": 40})
run = lab.wait(run["id"])
curves = lab.metrics(run["id"], keys=["val/top1"])
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("succeeded", "failed", "cancelled", "pruned")
STATUSES = ("queued", "running", *TERMINAL)


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text


class QueueUnreachable(UserWarning):
    """A submission was stored (202) but the server could not put it in the queue yet."""


class MatchlabError(RuntimeError):
    """The server refused a request; ``detail`` is its explanation (field errors for a 422)."""

    def __init__(self, status_code: int, detail: Any):
        self.status_code = status_code
        self.detail = detail
        if isinstance(detail, list):
            text = "\n".join(
                f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
                for e in detail
            )
        else:
            text = str(detail)
        super().__init__(f"HTTP {status_code}: {text}")


class Unreachable(MatchlabError):
    """No matchlab server answered at the URL (refused, timed out, unknown host)."""

    def __init__(self, url: str, reason: Exception):
        self.status_code, self.detail = 0, str(reason)
        RuntimeError.__init__(
            self,
            f"no matchlab server answers at {url} ({type(reason).__name__}: {reason}); start one "
            "with `matchlab up`, or point MATCHLAB_URL (or --url) at yours",
        )


class Client:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``url`` and ``token`` default to MATCHLAB_URL and MATCHLAB_API_TOKEN."""
        if url is None or token is None:
            from app.config import get_settings

            settings = get_settings()
            url = url or settings.url
            token = token if token is not None else settings.api_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise MatchlabError(response.status_code, _detail(response))
        if response.headers.get("matchlab-queue") == "unreachable":
            warnings.warn(
                f"{self.url}: stored, but not queued yet (the server's Redis did not answer); "
                "the workers queue it once Redis is back",
                QueueUnreachable,
                stacklevel=3,
            )
        return response.json() if response.content else None

    def run_url(self, run_id: int) -> str:
        return f"{self.url}/runs/{run_id}"

    # -- runs ---------------------------------------------------------------------------------
    def submit(self, spec: dict[str, Any], preset: str | None = None) -> dict[str, Any]:
        """Queue one run; returns the run JSON (its ``id``, the spec with defaults filled in)."""
        params = {"preset": preset} if preset else None
        return self._call("POST", "/api/runs", json=spec, params=params)

    def get(self, run_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/runs/{run_id}")

    def runs(self, **filters: Any) -> dict[str, Any]:
        """``{"items", "total", ...}``; filters: status, algorithm, dataset, sweep, q, limit, offset."""
        return self._call("GET", "/api/runs", params={k: v for k, v in filters.items() if v})

    def cancel(self, run_id: int) -> dict[str, Any]:
        return self._call("POST", f"/api/runs/{run_id}/cancel")

    def retry(self, run_id: int) -> dict[str, Any]:
        """A new run with the same spec, from scratch."""
        return self._call("POST", f"/api/runs/{run_id}/retry")

    def resume(self, run_id: int) -> dict[str, Any]:
        """The same run, queued again to continue from its last checkpoint (cancelled or failed
        runs with one; else MatchlabError 409 saying why)."""
        return self._call("POST", f"/api/runs/{run_id}/resume")

    def checkpoint_size(self, run_id: int, which: str = "last") -> int | None:
        """Bytes of the run's ``last`` or ``best`` checkpoint; None when it has none."""
        try:
            with self.http.stream("GET", self._checkpoint_path(run_id, which)) as response:
                if response.status_code == 404:
                    return None
                if response.status_code >= 400:
                    response.read()
                    raise MatchlabError(response.status_code, _detail(response))
                return int(response.headers.get("content-length", 0))
        except httpx.TransportError as exc:
            raise Unreachable(self.url, exc) from None

    def download(
        self,
        run_id: int,
        path: str | os.PathLike,
        which: str = "last",
        on_start: Callable[[int], None] | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> Path:
        """Stream the run's checkpoint to ``path`` (whole or not at all); returns the path.
        ``on_start(total bytes)`` and ``on_chunk(bytes)`` report progress."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        try:
            with self.http.stream("GET", self._checkpoint_path(run_id, which)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise MatchlabError(response.status_code, _detail(response))
                if on_start:
                    on_start(int(response.headers.get("content-length", 0)))
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        if on_chunk:
                            on_chunk(len(chunk))
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise Unreachable(self.url, exc) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return target

    @staticmethod
    def _checkpoint_path(run_id: int, which: str) -> str:
        return f"/api/runs/{int(run_id)}/checkpoint?which={which}"

    def import_folder(self, folder: str | os.PathLike, checkpoint: bool = True) -> dict[str, Any]:
        """Store a ``matchlab train --out`` folder as a finished run (``matchlab sync``); the run
        JSON, the same run when the folder was synced before. FileNotFoundError names a missing
        file."""
        folder = Path(folder)
        required, optional = ("spec.json", "metrics.jsonl"), ("checkpoint.pt", "best.pt")
        for name in required:
            if not (folder / name).is_file():
                raise FileNotFoundError(
                    f"{folder} has no {name}: not a complete `matchlab train --out` folder"
                )
        names = {"spec": "spec.json", "metrics": "metrics.jsonl"}
        if (folder / "run.json").is_file():  # the folder's uid, from `matchlab train`
            names["identity"] = "run.json"
        if checkpoint:
            names.update(
                (part, name)
                for part, name in zip(("checkpoint", "best"), optional, strict=True)
                if (folder / name).is_file()
            )
        data = {
            "started_at": (folder / "spec.json").stat().st_mtime,
            "finished_at": (folder / "metrics.jsonl").stat().st_mtime,
            "origin": f"{socket.gethostname()}:{folder.resolve()}"[:500],
        }
        with ExitStack() as files:
            parts = {
                part: (name, files.enter_context(open(folder / name, "rb")))
                for part, name in names.items()
            }
            return self._call("POST", "/api/runs/import", files=parts, data=data, timeout=None)

    def delete(self, run_id: int) -> None:
        self._call("DELETE", f"/api/runs/{run_id}")

    def wait(
        self,
        run_id: int,
        timeout: float | None = None,
        poll: float = 1.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Block until the run has finished (any terminal status); returns the run JSON."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if on_update:
                on_update(run)
            if run["status"] in TERMINAL:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is still {run['status']} after {timeout} s")
            time.sleep(poll)

    def metrics(
        self, run_id: int, keys: list[str] | None = None, max_points: int | None = None
    ) -> dict[str, dict[str, list[Any]]]:
        """``{key: {"epoch": [...], "step": [...], "wall_time": [...], "value": [...]}}``."""
        params: dict[str, Any] = {}
        if keys:
            params["keys"] = ",".join(keys)
        if max_points:
            params["max_points"] = max_points
        return self._call("GET", f"/api/runs/{run_id}/metrics", params=params)["series"]

    def events(self, run_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """The run's server-sent events as ``(event, data)`` until the server closes the stream."""
        event = None
        timeout = httpx.Timeout(self.http.timeout.connect, read=None)
        with self.http.stream("GET", f"/api/runs/{run_id}/events", timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise MatchlabError(response.status_code, response.json().get("detail"))
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event:
                    yield event, json.loads(line.removeprefix("data: "))
                    event = None

    # -- sweeps, compare, health ----------------------------------------------------------------
    def sweep(
        self,
        base: dict[str, Any],
        grid: dict[str, list[Any]],
        seeds: list[int] | None = None,
        name: str | None = None,
        preset: str | None = None,
    ) -> dict[str, Any]:
        """Queue base × grid × seeds; returns the sweep JSON with its ``runs``."""
        body = {"base": base, "grid": grid, "seeds": seeds, "name": name, "preset": preset}
        return self._call("POST", "/api/sweeps", json=body)

    def search(
        self,
        base: dict[str, Any],
        space: dict[str, dict[str, Any]],
        seeds: list[int],
        budget: dict[str, int],
        method: str = "tpe",
        parallel: int = 1,
        name: str | None = None,
        preset: str | None = None,
        sampler_seed: int = 0,
        early_stop: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a ``random`` or ``tpe`` search over ``space`` (field → ``{"type": "log_uniform",
        "low": ..., "high": ...}``, ``uniform``, ``int`` or ``{"type": "choice", "values": [...]}``)
        within ``budget`` (``{"configs": N}`` and/or ``{"steps": N}``), every configuration on
        every one of ``seeds``; returns the sweep JSON with its ``trials``."""
        body = {
            "method": method,
            "base": base,
            "space": space,
            "seeds": seeds,
            "budget": budget,
            "parallel": parallel,
            "name": name,
            "preset": preset,
            "sampler_seed": sampler_seed,
            "early_stop": early_stop,
        }
        return self._call("POST", "/api/sweeps", json=body)

    def get_sweep(self, sweep_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/sweeps/{sweep_id}")

    def steer_search(self, sweep_id: int, action: str, **budget: int) -> dict[str, Any]:
        """``action`` pause, resume, stop, or extend (with ``configs=`` and/or ``steps=``)."""
        body = budget if action == "extend" else None
        return self._call("POST", f"/api/sweeps/{sweep_id}/{action}", json=body)

    def compare(self, run_ids: list[int], keys: list[str] | None = None, **params: Any) -> dict:
        params = {"runs": ",".join(map(str, run_ids)), **params}
        if keys:
            params["keys"] = ",".join(keys)
        return self._call("GET", "/api/compare", params=params)

    def health(self) -> dict[str, Any]:
        """The server's health JSON (also when it answers 503: the body says what is down)."""
        try:
            response = self.http.get("/api/health")
        except httpx.TransportError as exc:
            raise Unreachable(self.url, exc) from None
        try:
            return response.json()
        except ValueError:
            raise MatchlabError(response.status_code, response.text) from None

    def run_counts(self) -> dict[str, int]:
        """How many runs the server holds in each status."""
        return {s: self.runs(status=s, limit=1)["total"] for s in STATUSES}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Child processes that end when their parent ends, however it ends (Ctrl-C, SIGKILL, a closed
terminal): ``matchlab up``'s Redis, worker and web server never outlive it holding the port.

Each child runs in a session of its own (a Ctrl-C in the terminal reaches only the parent, which
then stops the children in order) and asks Linux for SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``); a worker so stopped puts its run back in the queue, keeping the
checkpoint. On systems without prctl the children are stopped only by a parent that exits
normally.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send this process ``sig`` when its parent dies (no-op elsewhere); used by a
    worker's pool processes, which the worker forks without exec."""
    parent = os.getppid()
    prctl = _prctl()
    if prctl is None:
        return
    prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)


def _die_with(parent_pid: int) -> Callable[[], None] | None:
    prctl = _prctl()
    if prctl is None:
        return None

    def preexec() -> None:  # runs in the child between fork and exec
        os.setsid()
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def spawn(
    args: Sequence[str], env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.Popen:
    """``subprocess.Popen(args)`` in its own session, ended with SIGTERM when this process dies."""
    preexec = _die_with(os.getpid())
    return subprocess.Popen(
        list(args),
        env=env,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
        start_new_session=preexec is None,  # preexec already calls setsid
        **kwargs,  # type: ignore[arg-type]
    )

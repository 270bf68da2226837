"""Log a recurring failure once per cause per interval, not once per connection.

A Redis outage seen by 1,000 open streams, or a process out of file handles, used to write the
same traceback for every stream and every retry (76 MB of log in 30 s). Each distinct cause is
logged when first seen, then at most once per interval with how often it recurred meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time


class LogOnce:
    """``log_once.warning(cause, message, *args)``: ``cause`` names the failure (say the
    exception's type and first line); the same cause within ``interval`` seconds is counted, not
    logged."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}
        self._lock = threading.Lock()

    def _due(self, cause: str) -> int | None:
        """None while ``cause`` was logged recently; else how often it was held back."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(cause)
            if last is not None and now - last < self.interval:
                self._quiet[cause] = self._quiet.get(cause, 0) + 1
                return None
            if len(self._last) > 1000:  # causes are few; a flood of distinct ones starts over
                self._last.clear()
                self._quiet.clear()
            self._last[cause] = now
            return self._quiet.pop(cause, 0)

    def log(self, level: int, cause: str, message: str, *args: object, exc_info=None) -> bool:
        """Log unless ``cause`` was logged in the last ``interval`` seconds; True if logged."""
        held_back = self._due(cause)
        if held_back is None:
            return False
        if held_back:
            message += " (and %d more times in the last %gs)"
            args = (*args, held_back, self.interval)
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def warning(self, cause: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, cause, message, *args)


def cause_of(exc: BaseException) -> str:
    """A failure's cause for ``LogOnce``: its type and the first line of its message."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"

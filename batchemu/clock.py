"""The injectable clock: the only place batchemu reads wall time (SystemClock) or fakes it (FakeClock)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, as a float."""

    def now(self) -> float: ...

    @property
    def is_fake(self) -> bool: ...


class SystemClock:
    is_fake = False

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to; tests step it instead of sleeping."""

    is_fake = True

    def __init__(self, start: float | None = None) -> None:
        # Starts at the real time (whole seconds) so times look current, e.g. to CloudWatch Logs, which
        # refuses events older than 14 days; from then on it moves only by advance().
        self._now = float(int(time.time())) if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def restart(self) -> None:
        """Back to the real time; only for a reset, when nothing holds times from before."""
        with self._lock:
            self._now = float(int(time.time()))

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now


def to_millis(seconds: float) -> int:
    """AWS Batch reports every job time as integer epoch milliseconds."""
    return int(seconds * 1000)

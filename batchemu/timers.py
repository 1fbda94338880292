"""The one timer queue on the emulator's clock: callbacks due at a clock time (EventBridge scheduled rules,
Scheduler schedules, Step Functions Wait states and timeouts), run by the scheduler loop, so a fake clock
drives them in tests. Imports the clock only."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from batchemu.clock import Clock

log = logging.getLogger("batchemu.timers")

Callback = Callable[[], None]


class Timer:
    """A handle on one pending callback; cancel() makes it a no-op."""

    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """Callbacks must be quick (set an event, enqueue work): they run on the scheduler's thread."""

    def __init__(self, clock: Clock, wake: Callable[[], None] = lambda: None) -> None:
        self.clock = clock
        self._wake = wake
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def call_at(self, when: float, callback: Callback) -> Timer:
        """Runs `callback` once the clock reads `when` (seconds since the epoch) or later."""
        timer = Timer(when, callback)
        with self._lock:
            first = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._order), timer))
        if first:
            self._wake()  # the loop may be sleeping longer than this one needs
        return timer

    def call_later(self, seconds: float, callback: Callback) -> Timer:
        return self.call_at(self.clock.now() + max(0.0, seconds), callback)

    def next_due(self) -> float | None:
        """The clock time of the earliest pending callback, or None."""
        with self._lock:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def run_due(self) -> int:
        """Runs every callback whose time has come, earliest first; returns how many ran."""
        ran = 0
        while True:
            now = self.clock.now()
            with self._lock:
                if not self._heap or self._heap[0][0] > now:
                    return ran
                _, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            ran += 1
            try:
                timer.callback()
            except Exception:
                log.exception("a timer's callback failed")

    def clear(self) -> None:
        with self._lock:
            for _, _, timer in self._heap:
                timer.cancelled = True
            self._heap.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for _, _, timer in self._heap if not timer.cancelled)

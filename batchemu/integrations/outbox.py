"""One worker thread for the emulator's own calls to other AWS services (log shipping, ECS clusters,
events), so neither requests nor the scheduler ever wait on them. Failures are logged, never raised."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger("batchemu.integrations")

Task = Callable[[], None]
STOP_DEADLINE_SECONDS = 5.0


class Outbox:
    def __init__(self, interval: float = 0.5) -> None:
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        self._periodic: list[Task] = []
        self._interval = interval
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one runner of tasks at a time: the worker or flush()
        self._deadline: float | None = None  # when stopping: work after this is dropped
        self.dropped = 0
        self._unfinished = 0  # put but not yet run, including a task the worker has just taken
        self._done = threading.Condition()

    def put(self, task: Task) -> None:
        with self._done:
            self._unfinished += 1
        self._tasks.put(task)

    def every_interval(self, task: Task) -> None:
        self._periodic.append(task)

    @property
    def backlog(self) -> int:
        return self._tasks.qsize()

    def start(self) -> None:
        if self._thread is None:
            self._deadline = None
            self._thread = threading.Thread(target=self._loop, name="batchemu-outbox", daemon=True)
            self._thread.start()

    def stop(self, deadline_seconds: float = STOP_DEADLINE_SECONDS) -> None:
        """Finishes what is queued, for at most `deadline_seconds`; what is left then is dropped."""
        self._deadline = time.monotonic() + deadline_seconds
        if self._thread is not None:
            self._tasks.put(None)
            self._thread.join(timeout=deadline_seconds)
            busy, self._thread = self._thread.is_alive(), None
            if busy:  # a write hangs (a slow --aws-endpoint, say): the rest is abandoned, not waited for
                self.dropped += self._tasks.qsize()
                log.warning("a write to another service was still running at the shutdown deadline")
                log.warning("dropped %d writes to other services at shutdown", self.dropped)
                return
        self.flush()
        if self.dropped:
            log.warning("dropped %d writes to other services at shutdown", self.dropped)

    def flush(self) -> None:
        """Runs every queued task and one round of the periodic ones, now, on the caller's thread; a task
        the worker has already taken is waited for."""
        with self._lock:
            self._drain()
            self._run_periodic()
            self._drain()
        with self._done:
            self._done.wait_for(lambda: self._unfinished == 0, timeout=30)

    def _loop(self) -> None:
        next_round = time.monotonic() + self._interval
        while True:
            try:
                task = self._tasks.get(timeout=max(0.0, next_round - time.monotonic()))
            except queue.Empty:
                task = _NOTHING
            if task is None:
                return
            with self._lock:
                if task is not _NOTHING:
                    self._run(task)
                    self._finished()
                if time.monotonic() >= next_round:  # periodic work keeps its pace under a steady stream
                    self._run_periodic()
                    next_round = time.monotonic() + self._interval

    def _drain(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is not None:
                self._run(task)
                self._finished()

    def _finished(self) -> None:
        with self._done:
            self._unfinished -= 1
            self._done.notify_all()

    def _run_periodic(self) -> None:
        for task in self._periodic:
            self._run(task)

    def _run(self, task: Task) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.dropped += 1
            return
        try:
            task()
        except Exception:
            log.exception("integration task failed")


def _nothing() -> None:
    """Stands for "no task arrived before the next periodic round"."""


_NOTHING: Task = _nothing

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


class Outbox:
    def __init__(self, interval: float = 0.5) -> None:
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        self._periodic: list[Task] = []
        self._interval = interval
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one runner of tasks at a time: the worker or flush()

    def put(self, task: Task) -> None:
        self._tasks.put(task)

    def every_interval(self, task: Task) -> None:
        self._periodic.append(task)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="batchemu-outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._tasks.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def flush(self) -> None:
        """Runs every queued task and one round of the periodic ones, now, on the caller's thread."""
        with self._lock:
            self._drain()
            self._run_periodic()
            self._drain()

    def _loop(self) -> None:
        next_round = time.monotonic() + self._interval
        while True:
            try:
                task = self._tasks.get(timeout=max(0.0, next_round - time.monotonic()))
            except queue.Empty:
                task = None
                with self._lock:
                    self._run_periodic()
                next_round = time.monotonic() + self._interval
                continue
            if task is None:
                return
            with self._lock:
                _run(task)

    def _drain(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is not None:
                _run(task)

    def _run_periodic(self) -> None:
        for task in self._periodic:
            _run(task)


def _run(task: Task) -> None:
    try:
        task()
    except Exception:
        log.exception("integration task failed")

"""When moto's state is saved into the state store: a service changed by a request is saved in that
request's thread before its answer goes out (`after_request`); services that change without a request
of their own (job log lines written in-process, what an EventBridge rule or S3 notification delivers,
executions running in moto's interpreter) are marked and saved within FLUSH_SECONDS by the scheduler loop
(`flush_due`), and at shutdown. Loads what was saved at start-up, before anything is served."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from batchemu import moto_state
from batchemu.persistence import StateDir

log = logging.getLogger("batchemu.persistence")
FLUSH_SECONDS = 1.0
SAVES_EVERYTHING = ("cloudformation",)
# A write to the key changes, besides itself, what moto delivers to from it, in-process.
CASCADE = {
    "events": ("sqs", "sns", "logs", "lambda", "stepfunctions", "kinesis", "firehose"),
    "s3": ("sqs", "sns", "lambda", "logs"),
    "sns": ("sqs", "lambda", "logs"),
    "sqs": ("lambda", "logs"),
    "dynamodb": ("lambda", "logs"),
    "lambda": ("logs",),
    "scheduler": ("sqs", "sns", "lambda", "stepfunctions", "events"),
}


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


class MotoSaver:
    def __init__(self, state: StateDir) -> None:
        self.state = state
        self._lock = threading.Lock()  # one snapshot + write at a time: the last written is the newest
        self._dirty: set[str] = set()
        self._failing: set[str] = set()
        self._next_flush = 0.0
        self.saves = 0
        self.bytes_written = 0

    def load(self) -> set[str]:
        """Puts the saved backends back into moto; returns the services loaded. Backends saved by another
        moto version, or that cannot be read, are set aside (table moto_aside) with a warning."""
        rows = self.state.moto_rows()
        if not rows:
            return set()
        version, saved = _moto_version(), self.state.moto_version()
        if saved is not None and saved != version:
            why = f"saved by moto {saved}; this server runs moto {version}"
            log.warning("the state of %d moto backends was %s: set aside, not loaded", len(rows), why)
            self.state.set_moto_aside([(key, why) for key in rows])
            return set()
        started = time.perf_counter()
        restored, refused = moto_state.restore(rows)
        for key, why in refused:
            log.warning("saved moto backend %s (account %s, region %s) cannot be loaded: %s", *key, why)
        self.state.set_moto_aside(refused)
        self.state.remember_moto({key: body for key, body in rows.items() if key not in dict(refused)})
        log.info(
            "loaded %s from %s in %.0f ms",
            ", ".join(sorted(restored)) or "no moto service",
            self.state.path,
            (time.perf_counter() - started) * 1000,
        )
        return restored

    def after_request(self, service: str) -> None:
        """`service` was changed by a request: saved now; what it delivers to is saved soon. A stack
        operation changes the services of its resources in the same call: all are saved now."""
        service = moto_state.canonical(service)
        if service in SAVES_EVERYTHING:
            self.save_everything()
            return
        self.save(service)
        self._dirty.update(CASCADE.get(service, ()))

    def touch(self, service: str) -> None:
        self._dirty.add(service)

    def flush_due(self) -> None:
        """Saves the marked services when FLUSH_SECONDS passed since the last flush."""
        now = time.monotonic()
        if now >= self._next_flush:
            self._next_flush = now + FLUSH_SECONDS
            self.flush()

    def flush(self) -> None:
        if moto_state.has_running_executions():
            self._dirty.add("stepfunctions")
        while self._dirty:
            self.save(self._dirty.pop())

    def save_everything(self) -> None:
        for service in services_in_use():
            self.save(service)

    def save(self, service: str) -> None:
        service = moto_state.canonical(service)
        with self._lock:
            try:
                rows = moto_state.snapshot(service)
                kinds = list(moto_state.backend_dicts(service))
                self.bytes_written += self.state.save_moto(kinds, rows, _moto_version())
                self.saves += 1
                self._failing.discard(service)
            except Exception:
                if service not in self._failing:  # once per failing spell, not once per request
                    log.exception("could not save moto's %s state; it will not survive a restart", service)
                self._failing.add(service)


def services_in_use() -> list[str]:
    """The services moto holds state for (a BackendDict with at least one account)."""
    from moto.core.base_backend import BackendDict

    every: list[Any] = list(BackendDict._instances)  # type: ignore[misc]
    found = [backends.service_name for backends in every if dict.__len__(backends)]
    return sorted(set(found) - {"stepfunctions-parser"})

"""A job's log lines, read back from CloudWatch Logs (moto behind this same endpoint, or --aws-endpoint)
with the emulator's own clients and short timeouts; called outside the store lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from batchemu.dashboard.snapshot import LogTarget
from batchemu.integrations.aws import QUICK, AwsClients

MAX_LINES_PER_ATTEMPT = 1000


@dataclass
class LogReader:
    """Reads with the emulator's own credentials (accepted under --auth sigv4 too)."""

    clients: AwsClients

    def lines(self, targets: list[LogTarget]) -> tuple[list[dict[str, Any]], str | None]:
        """Every attempt's lines, oldest first, and an error message when some could not be read. A
        stream not created yet (lines are shipped a moment after they are written) reads as empty."""
        found: list[dict[str, Any]] = []
        error = None
        for target in targets:
            try:
                found.extend(self._read(target))
            except Exception as failure:
                code = getattr(failure, "response", {}).get("Error", {}).get("Code")
                if code != "ResourceNotFoundException":
                    error = f"could not read {target.group} {target.stream}: {type(failure).__name__}"
        return found, error

    def _read(self, target: LogTarget) -> list[dict[str, Any]]:
        logs = self.clients.client("logs", target.account, target.region)
        response = logs.get_log_events(
            logGroupName=target.group,
            logStreamName=target.stream,
            startFromHead=True,
            limit=MAX_LINES_PER_ATTEMPT,
        )
        return [
            {
                "attempt": target.attempt,
                "timestamp": event.get("timestamp"),
                "message": event.get("message", ""),
            }
            for event in response.get("events", [])
        ]


_readers: dict[tuple[str, str], LogReader] = {}
_readers_lock = threading.Lock()


def reader_for(endpoint: str, secret_key: str) -> LogReader:
    with _readers_lock:
        key = (endpoint, secret_key)
        if key not in _readers:
            _readers[key] = LogReader(AwsClients(endpoint, secret_key, QUICK))
        return _readers[key]

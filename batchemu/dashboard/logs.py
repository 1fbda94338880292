"""A job's log lines, read back from CloudWatch Logs (moto behind this same endpoint, or --aws-endpoint)
with a boto3 client and short timeouts; called outside the store lock. Imports boto3 and the snapshot."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from boto3.session import Config

from batchemu.dashboard.snapshot import LogTarget

MAX_LINES_PER_ATTEMPT = 1000
# A dashboard page must not hang on a slow or absent logs service: one try, a few seconds.
_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1})


@dataclass
class LogReader:
    endpoint: str
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, account: str, region: str) -> Any:
        with self._lock:
            found = self._clients.get((account, region))
            if found is None:
                found = boto3.session.Session().client(
                    "logs",
                    endpoint_url=self.endpoint,
                    region_name=region,
                    aws_access_key_id=account,  # the access key names the account, as moto reads it
                    aws_secret_access_key="batchemu",
                    config=_CONFIG,
                )
                self._clients[(account, region)] = found
            return found

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
        logs = self.client(target.account, target.region)
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


_readers: dict[str, LogReader] = {}
_readers_lock = threading.Lock()


def reader_for(endpoint: str) -> LogReader:
    with _readers_lock:
        return _readers.setdefault(endpoint, LogReader(endpoint))

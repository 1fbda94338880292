"""Where job log lines are written: CloudWatch Logs through boto3 (any endpoint, e.g. --aws-endpoint), or
moto's logs backend called directly when moto runs in this process (no HTTP round trip per call; the
adapter checks the moto version it was written against and falls back to boto3 otherwise)."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from batchemu.integrations.aws import AwsClients
from batchemu.integrations.moto_events import existing_backend

log = logging.getLogger("batchemu.logs")
# moto versions whose LogsBackend has create_log_group(name, tags), create_log_stream(group, stream) and
# put_log_events(group, stream, events) as used here (checked against 5.x).
SUPPORTED_MOTO_MAJOR = 5
# PutLogEvents accepts events from 14 days ago to 2 hours ahead (CloudWatch Logs API reference).
OLDEST_MS = 14 * 24 * 3600 * 1000
NEWEST_MS = 2 * 3600 * 1000


class LogSink(Protocol):
    def create_group(self, account: str, region: str, group: str) -> None: ...

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None: ...

    def put(
        self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]
    ) -> None: ...


class Boto3LogSink:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def create_group(self, account: str, region: str, group: str) -> None:
        logs = self.clients.client("logs", account, region)
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None:
        logs = self.clients.client("logs", account, region)
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass

    def put(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self.clients.client("logs", account, region).put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=events
        )


class MotoLogSink:
    """Calls moto's in-process logs backend directly: what moto's own server would do for the same call.
    Events go to the log group's put_log_events, with PutLogEvents' time window (14 days back, 2 hours
    ahead) applied here: moto's backend-level call computes that window with four datetime conversions
    per call, a third of the cost of a finished array child's log shipping."""

    def __init__(self, on_write: Callable[[], None] | None = None) -> None:
        self._backends: Any = None  # moto's, imported at the first write (moto costs a second to load)
        self._exists: Any = None
        self._on_write = on_write or (lambda: None)  # the state store saves the logs soon after

    @staticmethod
    def loaded() -> bool:
        """Whether moto's logs backend is in this process already (a write then costs only the write)."""
        return "moto.logs.models" in sys.modules

    def _backend(self, account: str, region: str) -> Any:
        if self._backends is None:
            from moto.logs.exceptions import ResourceAlreadyExistsException
            from moto.logs.models import logs_backends

            self._backends, self._exists = logs_backends, ResourceAlreadyExistsException
        # Not kept between calls: moto's reset replaces its backends.
        backend = existing_backend(self._backends, account, region)
        return backend if backend is not None else self._backends[account][region]

    def create_group(self, account: str, region: str, group: str) -> None:
        backend = self._backend(account, region)
        try:
            backend.create_log_group(group, {})
        except self._exists:
            pass
        self._on_write()

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None:
        backend = self._backend(account, region)
        try:
            backend.create_log_stream(group, stream)
        except self._exists:
            pass
        self._on_write()

    def put(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        backend = self._backend(account, region)
        log_group = backend.groups.get(group)
        if log_group is None:  # moto's own call raises the ResourceNotFoundException
            backend.put_log_events(group, stream, events)
            return
        now = time.time() * 1000
        accepted = [event for event in events if now - OLDEST_MS <= event["timestamp"] <= now + NEWEST_MS]
        if accepted:
            log_group.put_log_events(stream, accepted)
            self._on_write()


def moto_mock_active() -> bool:
    """True while moto's mock_aws (or a mock_* of moto 4) intercepts botocore in this process."""
    models = sys.modules.get("moto.core.models")
    if models is None:
        return False  # moto never imported, so no mock of it can be active
    stubber = getattr(models, "botocore_stubber", None)
    mock_class = getattr(models, "MockAWS", None) or getattr(models, "BaseMockAWS", None)
    return bool(getattr(stubber, "enabled", False) or getattr(mock_class, "_nested_count", 0))


def installed_moto_version() -> str:
    """moto's version without importing moto (a second): read from its __init__.py, else its metadata."""
    module = sys.modules.get("moto")
    if module is not None:
        return str(module.__version__)
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("moto is not installed")
    found = re.search(r'^__version__ = "([^"]+)"', Path(spec.origin).read_text(), re.MULTILINE)
    if found:
        return found.group(1)
    from importlib.metadata import version

    return version("moto")


def choose_sink(
    clients: AwsClients, in_process_moto: bool, on_write: Callable[[], None] | None = None
) -> LogSink:
    if in_process_moto:
        try:
            moto_version = installed_moto_version()
            if int(moto_version.split(".")[0]) == SUPPORTED_MOTO_MAJOR:
                return MotoLogSink(on_write)
            log.warning("moto %s is not the version the direct log adapter knows; using boto3", moto_version)
        except Exception:
            log.exception("moto's logs backend is not usable directly; using boto3")
    return Boto3LogSink(clients)

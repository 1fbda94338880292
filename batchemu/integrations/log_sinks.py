"""Where job log lines are written: CloudWatch Logs through boto3 (any endpoint, e.g. --aws-endpoint), or
moto's logs backend called directly when moto runs in this process (no HTTP round trip per call; the
adapter checks the moto version it was written against and falls back to boto3 otherwise)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from batchemu.integrations.aws import AwsClients

log = logging.getLogger("batchemu.logs")
# moto versions whose LogsBackend has create_log_group(name, tags), create_log_stream(group, stream) and
# put_log_events(group, stream, events) as used here (checked against 5.x).
SUPPORTED_MOTO_MAJOR = 5


class LogSink(Protocol):
    def create_group(self, account: str, region: str, group: str) -> None: ...

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None: ...

    def put(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None: ...


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
    """Calls moto's in-process logs backend directly: what moto's own server would do for the same call."""

    def __init__(self) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException
        from moto.logs.models import logs_backends

        self._backends = logs_backends
        self._exists = ResourceAlreadyExistsException

    def create_group(self, account: str, region: str, group: str) -> None:
        try:
            self._backends[account][region].create_log_group(group, {})
        except self._exists:
            pass

    def create_stream(self, account: str, region: str, group: str, stream: str) -> None:
        try:
            self._backends[account][region].create_log_stream(group, stream)
        except self._exists:
            pass

    def put(self, account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self._backends[account][region].put_log_events(group, stream, events)


def choose_sink(clients: AwsClients, in_process_moto: bool) -> LogSink:
    if in_process_moto:
        try:
            import moto

            if int(moto.__version__.split(".")[0]) == SUPPORTED_MOTO_MAJOR:
                return MotoLogSink()
            log.warning("moto %s is not the version the direct log adapter knows; using boto3", moto.__version__)
        except Exception:
            log.exception("moto's logs backend is not usable directly; using boto3")
    return Boto3LogSink(clients)

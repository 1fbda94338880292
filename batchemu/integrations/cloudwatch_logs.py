"""Job output into CloudWatch Logs: each attempt's stdout/stderr lines go, while it runs, to log group
/aws/batch/job (or the awslogs-group option) and its stream `<prefix or job definition>/default/<task>`.
When the attempt ends its last lines are shipped at once, inside the transition (which holds the store
lock), so a client that reads the logs the instant DescribeJobs shows SUCCEEDED or FAILED finds them all;
then the runner may release the container."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from batchemu.integrations.log_sinks import LogSink
from batchemu.runners.base import Runner

log = logging.getLogger("batchemu.logs")
DEFAULT_GROUP = "/aws/batch/job"
MAX_BATCH = 1000


@dataclass
class Shipment:
    account: str
    region: str
    group: str
    stream: str
    handle: Any
    shipped: int = 0  # log events already sent
    created: bool = False
    # One sender at a time: the outbox thread's rounds and the final shipment at the end of the attempt.
    sending: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class LogShipper:
    runner: Runner
    sink: LogSink
    _tracked: dict[int, Shipment] = field(default_factory=dict)
    _groups: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def track(self, account: str, region: str, group: str, stream: str, handle: Any) -> None:
        with self._lock:
            self._tracked.setdefault(id(handle), Shipment(account, region, group, stream, handle))

    def finish(self, handle: Any) -> None:
        """The attempt ended: ship what is left now, then release the container."""
        with self._lock:
            shipment = self._tracked.pop(id(handle), None)
        if shipment is not None:
            self._send(shipment)
        self._release(handle)

    def ship(self) -> None:
        """One round: send new lines of every tracked attempt (runs on the outbox thread)."""
        with self._lock:
            shipments = list(self._tracked.values())
        for shipment in shipments:
            self._send(shipment)

    def _send(self, shipment: Shipment) -> None:
        with shipment.sending:
            try:
                self._ship_one(shipment)
            except Exception:
                log.exception("could not ship logs to %s %s", shipment.group, shipment.stream)

    def _ship_one(self, shipment: Shipment) -> None:
        events = self.runner.logs(shipment.handle, shipment.shipped)
        if not events and shipment.created:
            return
        where = (shipment.account, shipment.region, shipment.group)
        if not shipment.created:
            if where not in self._groups:
                self.sink.create_group(*where)
                self._groups.add(where)
            self.sink.create_stream(*where, shipment.stream)
            shipment.created = True
        for start in range(0, len(events), MAX_BATCH):
            batch = events[start : start + MAX_BATCH]
            self.sink.put(*where, shipment.stream, [{"timestamp": e.timestamp_ms, "message": e.message} for e in batch])
            shipment.shipped += len(batch)

    def reset(self) -> None:
        """Forget which log groups exist (the services they live in may have been reset too)."""
        self._groups.clear()

    def _release(self, handle: Any) -> None:
        release = getattr(self.runner, "release", None)
        if release is not None:
            try:
                release(handle)
            except Exception:
                log.exception("runner could not release a finished attempt")


def log_target(container: dict[str, Any] | None) -> str:
    """The log group a job's container writes to: awslogs-group, else /aws/batch/job."""
    options = ((container or {}).get("log_configuration") or {}).get("options") or {}
    return options.get("awslogs-group") or DEFAULT_GROUP


def transition_listener(shipper: LogShipper):  # type: ignore[no-untyped-def]
    """Starts shipping when an attempt starts running; hands the runner handle back when it ends."""

    def on_transition(backend: Any, job: Any, old_status: str) -> None:
        attempt = job.current_attempt
        if (
            job.status == "RUNNING"
            and old_status == "STARTING"
            and attempt is not None
            and attempt.run_handle is not None
        ):
            group = log_target(job.container)
            shipper.track(
                backend.account, backend.region, group, attempt.container.log_stream_name, attempt.run_handle
            )
        elif (
            old_status in ("STARTING", "RUNNING") and job.attempts and job.attempts[-1].run_handle is not None
        ):
            ended = job.attempts[-1]
            shipper.finish(ended.run_handle)
            ended.run_handle = None

    return on_transition

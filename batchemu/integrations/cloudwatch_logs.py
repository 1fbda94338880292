"""Job output into CloudWatch Logs: each attempt's stdout/stderr lines go, while it runs, to log group
/aws/batch/job (or the awslogs-group option) and its stream `<prefix or job definition>/default/<task>`.
When the attempt ends its last lines are taken at once, inside the transition (which holds the store
lock), so a client that reads the logs the instant DescribeJobs shows SUCCEEDED or FAILED finds them all;
then the runner may release the container.

Taken lines are written at once, except when the logs live in this process's moto and are read only
through this server (`defer_final`): then they wait in `_finished` until a CloudWatch Logs request to this
server (which calls flush_finished first: for GetLogEvents, of that one stream), the scheduler's idle
moments (IDLE_BATCH at a time, once moto's logs backend is loaded: before, nothing can have read them, and
loading it would stall the requests of that moment), a flush or shutdown, or until MAX_FINISHED wait (then
the oldest go). A
burst of 10^5 array children spends its time on the jobs, and writes their lines once it is over."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.domain import tasks
from batchemu.domain.models import Attempt, Job
from batchemu.integrations.log_sinks import LogSink
from batchemu.runners.base import Runner

log = logging.getLogger("batchemu.logs")
DEFAULT_GROUP = "/aws/batch/job"
MAX_BATCH = 1000
MAX_FINISHED = 100_000  # ended attempts whose last lines may wait (bounds memory and a reader's wait)
IDLE_BATCH = 2_000  # written per idle moment of the scheduler (~50 ms), so new work waits no longer
# At most, for a scheduler tick to end before a round lists what to ship (then it lists anyway).
LISTING_WAIT_SECONDS = 0.2


@dataclass(slots=True)
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


# An ended attempt whose last lines wait: (account, region, group, stream, whether the stream exists, its
# lines as (epoch ms, message)). Plain values: the garbage collector stops tracking such a tuple, and up to
# MAX_FINISHED of them wait (a Shipment, its lock and its runner's LogEvents would be five objects each).
Waiting = tuple[str, str, str, str, bool, tuple[tuple[int, str], ...]]


@dataclass
class LogShipper:
    runner: Runner
    sink: LogSink
    # The sink is read only through this server: last lines may wait for a read (see the module's doc).
    # A callable, asked at each attempt's end (moto's mock_aws in this process would read it directly).
    defer_final: Callable[[], bool] = lambda: False
    _tracked: dict[int, Shipment] = field(default_factory=dict)
    _finished: dict[tuple[str, str], Waiting] = field(default_factory=dict)  # by (group, stream)
    _groups: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _flushing: threading.Lock = field(default_factory=threading.Lock)  # finished lines go out in order
    # The store's lock, which the scheduler holds through a tick: a round lists the attempts to ship between
    # ticks, so an attempt that starts and ends within one tick (a 0 s array child) is taken whole by
    # finish(), not half-shipped by a round in the middle of the tick.
    between_ticks: Any = None

    def track(self, account: str, region: str, group: str, stream: str, handle: Any) -> None:
        with self._lock:
            self._tracked.setdefault(id(handle), Shipment(account, region, group, stream, handle))

    def finish(self, handle: Any) -> None:
        """The attempt ended: take what is left now (ship it, or keep it for flush_finished), then release
        the container."""
        with self._lock:
            shipment = self._tracked.pop(id(handle), None)
        if shipment is not None:
            if self.defer_final():
                with shipment.sending:  # after any round of the outbox that is sending this attempt's lines
                    try:
                        events = self._new_events(shipment)
                    except Exception:
                        log.exception("could not read the last log lines of %s", shipment.stream)
                        events = []
                never_started = not _started(shipment.handle)
                shipment.handle = None  # the runner's attempt (its spec, its lines) is not kept while waiting
                lines = tuple([(event.timestamp_ms, event.message) for event in events])
                group, stream = shipment.group, shipment.stream
                waiting = (shipment.account, shipment.region, group, stream, shipment.created, lines)
                with self._lock:
                    if events or not never_started:
                        self._finished[(group, stream)] = waiting
                    beyond = len(self._finished) - MAX_FINISHED + 1
                if beyond > 0:  # the oldest go out: memory and a reader's wait stay bounded
                    self.flush_finished(limit=beyond)
            else:
                self._send(shipment)
                shipment.handle = None
        self._release(handle)

    @property
    def waiting(self) -> int:
        """Ended attempts whose last lines wait for flush_finished."""
        return len(self._finished)

    def flush_finished(self, stream: tuple[str, str] | None = None, limit: int | None = None) -> None:
        """Writes the last lines of the ended attempts that wait (see the module's doc): those of one
        (group, stream), or the oldest `limit`, or all. Returns once they are written, also when another
        thread had started writing them."""
        with self._flushing:
            with self._lock:
                if stream is not None:
                    found = self._finished.pop(stream, None)
                    finished = [found] if found is not None else []
                elif limit is None or limit >= len(self._finished):
                    finished, self._finished = list(self._finished.values()), {}
                else:
                    finished = [
                        self._finished.pop(key) for key in list(itertools.islice(self._finished, limit))
                    ]
            for waiting in finished:
                try:
                    self._write_waiting(waiting)
                except Exception:
                    log.exception("could not ship logs to %s %s", waiting[2], waiting[3])

    def ship(self) -> None:
        """One round: send new lines of every tracked attempt (runs on the outbox thread)."""
        lock = self.between_ticks
        held = lock is not None and lock.acquire(timeout=LISTING_WAIT_SECONDS)
        try:
            with self._lock:
                shipments = list(self._tracked.values())
        finally:
            if held:
                lock.release()
        for shipment in shipments:
            self._send(shipment)

    def _send(self, shipment: Shipment) -> None:
        with shipment.sending:
            if shipment.handle is None:  # its attempt ended since this round listed it: finish() took it
                return
            try:
                self._ship_one(shipment)
            except Exception:
                log.exception("could not ship logs to %s %s", shipment.group, shipment.stream)

    def _ship_one(self, shipment: Shipment) -> None:
        self._write(shipment, self._new_events(shipment))

    def _new_events(self, shipment: Shipment) -> list[Any]:
        return self.runner.logs(shipment.handle, shipment.shipped)

    def _write(self, shipment: Shipment, events: list[Any]) -> None:
        if not events and (shipment.created or not _started(shipment.handle)):
            return  # a task's container that never started has no stream
        where = (shipment.account, shipment.region, shipment.group)
        if not shipment.created:
            self._create_stream(where, shipment.stream)
            shipment.created = True
        for start in range(0, len(events), MAX_BATCH):
            batch = events[start : start + MAX_BATCH]
            self.sink.put(
                *where, shipment.stream, [{"timestamp": e.timestamp_ms, "message": e.message} for e in batch]
            )
            shipment.shipped += len(batch)

    def _write_waiting(self, waiting: Waiting) -> None:
        account, region, group, stream, created, lines = waiting
        if not lines and created:
            return
        where = (account, region, group)
        if not created:
            self._create_stream(where, stream)
        for start in range(0, len(lines), MAX_BATCH):
            batch = lines[start : start + MAX_BATCH]
            self.sink.put(*where, stream, [{"timestamp": stamp, "message": text} for stamp, text in batch])

    def _create_stream(self, where: tuple[str, str, str], stream: str) -> None:
        if where not in self._groups:
            self.sink.create_group(*where)
            self._groups.add(where)
        self.sink.create_stream(*where, stream)

    def reset(self) -> None:
        """Forget which log groups exist, and lines not yet written (the services they live in may have
        been reset too)."""
        with self._lock:
            self._finished.clear()
        self._groups.clear()

    def _release(self, handle: Any) -> None:
        release = getattr(self.runner, "release", None)
        if release is not None:
            try:
                release(handle)
            except Exception:
                log.exception("runner could not release a finished attempt")


def _started(handle: Any) -> bool:
    """False only for a task's container that never started (runners/tasks.Part); other handles are
    attempts that began."""
    return bool(getattr(handle, "started", True))


def log_target(container: dict[str, Any] | None) -> str:
    """The log group a job's container writes to: awslogs-group, else /aws/batch/job."""
    options = ((container or {}).get("log_configuration") or {}).get("options") or {}
    return options.get("awslogs-group") or DEFAULT_GROUP


def followed(job: Job, attempt: Attempt) -> list[tuple[str, str, Any]]:
    """(log group, stream, handle) of each container of a live attempt: the one of a single-container
    job, or each container of a multi-container task (its handle's log_sources, runners/tasks.py)."""
    sources = getattr(attempt.run_handle, "log_sources", None)
    if sources is None:
        return [(log_target(job.container), attempt.container.log_stream_name or "", attempt.run_handle)]
    by_name = {container.get("name"): container for container in tasks.job_containers(job)}
    return [(log_target(by_name.get(spec.name)), spec.log_stream_name, part) for spec, part in sources()]


def _followed_handles(attempt: Attempt) -> list[Any]:
    """The handles followed() gives for an attempt, without working out their groups and streams."""
    handle = attempt.run_handle
    sources = getattr(handle, "log_sources", None)
    return [handle] if sources is None else [part for _spec, part in sources()]


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
            for group, stream, handle in followed(job, attempt):
                shipper.track(backend.account, backend.region, group, stream, handle)
        elif (
            old_status in ("STARTING", "RUNNING") and job.attempts and job.attempts[-1].run_handle is not None
        ):
            ended = job.attempts[-1]
            for handle in _followed_handles(ended):
                shipper.finish(handle)
            ended.run_handle = None

    return on_transition

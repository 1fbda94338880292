"""What the runners on a Docker engine (docker, swarm) share: the attempt handle, one thread pool for every
engine call, and the start/poll/stop/logs/halt/release/close steps around the engine's own. A runner
subclasses ContainerRunner and supplies only those. Imports runners.base and the docker SDK's errors only."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_all
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from docker.errors import APIError, DockerException, NotFound

from batchemu.runners.base import ContainerSpec, LogEvent, Phase, RunState
from batchemu.runners.ownership import ATTEMPT_LABEL, JOB_ID_LABEL, MANAGED_LABEL, TASK_CONTAINER_LABEL
from batchemu.runners.process import KILLED_EXIT_CODE

log = logging.getLogger("batchemu.runners")

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


@dataclass(eq=False)
class ContainerAttempt:
    """The handle start() returns; its fields are written by pool threads under `lock`."""

    job_id: str
    attempt: int
    state: RunState = RunState(Phase.STARTING)
    stop_requested: bool = False
    stop_grace: float | None = None  # stop_gracefully(): seconds between SIGTERM and SIGKILL
    released: bool = False
    refreshing: bool = False
    last_refresh: float = 0.0
    newest_log_ns: int = 0
    recent_lines: Counter[tuple[int, bytes]] = field(default_factory=Counter)  # read, within the overlap
    events: list[LogEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def finished(self) -> bool:
        return self.state.phase in (Phase.EXITED, Phase.FAILED_TO_START)

    @property
    def engine_id(self) -> str | None:
        """What the engine knows the attempt by (a container, a service) once it exists."""
        raise NotImplementedError


A = TypeVar("A", bound=ContainerAttempt)


class ContainerRunner(Generic[A]):
    """A Runner whose attempts are objects on a Docker engine. `on_change` (e.g. the scheduler's wake) is
    called from a pool thread whenever an attempt changes phase, so the scheduler need not wait for its
    next tick. Subclasses set `name` and `refresh_seconds` and implement the engine steps below."""

    name: str
    refresh_seconds = 0.2  # at most one look at the engine (+ log read) per attempt this often

    def __init__(self, workers: int, on_change: Callable[[], None] | None, stop_on_close: bool) -> None:
        self._on_change = on_change
        self._stop_on_close = stop_on_close
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"batchemu-{self.name}")
        self._live: set[A] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()

    # -- the engine's steps (pool threads, except where said) ----------------------------------------
    def _new_attempt(self, spec: ContainerSpec) -> A:
        """The handle of a new attempt (on the scheduler's thread: no engine call)."""
        raise NotImplementedError

    def _begin(self, attempt: A, spec: ContainerSpec) -> None:
        """Create and start what runs the attempt; a failure is reported with _fail()."""
        raise NotImplementedError

    def _look(self, attempt: A) -> None:
        """Read the attempt's state and new log lines from the engine and _settle() what changed."""
        raise NotImplementedError

    def _end(self, attempt: A) -> None:
        """Stop the attempt at once (terminate, timeout)."""
        raise NotImplementedError

    def _halt_one(self, attempt: A, deadline: float) -> None:
        """Stop the attempt and, until `deadline` (time.monotonic()), wait for its end and last lines."""
        raise NotImplementedError

    def _let_go(self, attempt: A) -> None:
        """Remove what the engine keeps of a released attempt (unless told to keep it)."""
        raise NotImplementedError

    def _clean_up(self, attempt: A) -> None:
        """At close: remove (or at least stop) an attempt that was never released."""
        raise NotImplementedError

    def _find(self, job_id: str, attempt: int | None, labels: list[str]) -> A | None:
        """A handle on the newest engine object with all these labels (blocks on the engine)."""
        raise NotImplementedError

    # -- the Runner protocol -------------------------------------------------------------------------
    def start(self, spec: ContainerSpec) -> A:
        attempt = self._new_attempt(spec)
        with self._lock:
            self._live.add(attempt)
        self._pool.submit(self._guarded, self._begin, attempt, spec)
        return attempt

    def poll(self, handle: A) -> RunState:
        if not handle.finished:
            self._schedule_refresh(handle)
        return handle.state

    def stop(self, handle: A, reason: str) -> None:
        with handle.lock:
            if handle.stop_requested:
                return
            handle.stop_requested = True
            exists = handle.engine_id is not None
        if exists:
            self._pool.submit(self._end, handle)

    def logs(self, handle: A, since: int) -> list[LogEvent]:
        if not handle.finished:
            self._schedule_refresh(handle)
        with handle.lock:
            return handle.events[since:]

    def halt(self, handles: list[A], timeout: float) -> None:
        """Stop these attempts now and wait (at most `timeout` seconds) until they have exited and their
        last log lines are read; attempts not yet created never start."""
        deadline = time.monotonic() + timeout
        pending = []
        for handle in handles:
            with handle.lock:
                handle.stop_requested = True
                exists = handle.engine_id is not None
            if exists and not handle.finished:
                pending.append(self._pool.submit(self._halt_one, handle, deadline))
        wait_for_all(pending, timeout=timeout)

    def release(self, handle: A) -> None:
        """The attempt is over and its logs drained: the engine's objects for it can go."""
        with self._lock:
            self._live.discard(handle)
        with handle.lock:
            handle.released = True
        self._let_go(handle)

    def find_running(
        self, job_id: str, attempt: int | None = None, task_container: str | None = None
    ) -> A | None:
        """A handle on what batchemu started earlier for `job_id` (and `attempt`, and the multi-container
        task's container named `task_container`, when given); None when there is none. Blocks on the
        engine: call it while loading state, not from the scheduler."""
        labels = [f"{MANAGED_LABEL}=1", f"{JOB_ID_LABEL}={job_id}"]
        if attempt is not None:
            labels.append(f"{ATTEMPT_LABEL}={attempt}")
        if task_container is not None:
            labels.append(f"{TASK_CONTAINER_LABEL}={task_container}")
        handle = self._find(job_id, attempt, labels)
        if handle is not None:
            with self._lock:
                self._live.add(handle)
        return handle

    def close(self, leave_running: bool = False) -> None:
        """Stop the pool; clean up attempts never released (unless `leave_running` or stop_on_close is
        False, which leave those still running to be re-attached by find_running)."""
        self._closing.set()
        with self._lock:
            live, self._live = list(self._live), set()
        self._shut_down_pools()
        keep_running = leave_running or not self._stop_on_close
        for attempt in live:
            if attempt.finished or not keep_running:
                self._clean_up(attempt)
        self._closed(keep_running)

    def _shut_down_pools(self) -> None:
        self._pool.shutdown(wait=True)  # pending removals of released attempts still run

    def _closed(self, kept_running: bool) -> None:
        """After close() has cleaned up the attempts: what else the runner holds."""

    # -- shared steps --------------------------------------------------------------------------------
    def _guarded(self, step: Callable[[A, ContainerSpec], None], attempt: A, spec: ContainerSpec) -> None:
        try:
            step(attempt, spec)
        except Exception as error:  # the engine went away, say: the attempt fails, never hangs in STARTING
            log.exception("could not start job %s", attempt.job_id)
            self._fail(attempt, f"CannotStartContainerError: {type(error).__name__}: {error}")

    def _abandoned(self, attempt: A) -> bool:
        """Stopped or released before its engine object was made: it ends killed, never made."""
        if attempt.stop_requested or attempt.released:
            self._settle(attempt, RunState(Phase.EXITED, exit_code=KILLED_EXIT_CODE))
            return True
        return False

    def _schedule_refresh(self, attempt: A) -> None:
        with attempt.lock:
            if attempt.engine_id is None or attempt.refreshing:
                return
            if time.monotonic() - attempt.last_refresh < self.refresh_seconds:
                return
            attempt.refreshing = True
        if not self._submit(self._refresh, attempt):
            attempt.refreshing = False

    def _refresh(self, attempt: A) -> None:
        try:
            self._look(attempt)
        finally:
            with attempt.lock:
                attempt.refreshing = False
                attempt.last_refresh = time.monotonic()

    def _fail(self, attempt: A, reason: str) -> None:
        self._settle(attempt, RunState(Phase.FAILED_TO_START, reason=reason))

    def _settle(self, attempt: A, state: RunState) -> None:
        with attempt.lock:
            if attempt.finished or attempt.state == state:
                return
            attempt.state = state
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                log.exception("on_change callback failed")

    def _submit(self, function: Callable[..., Any], *arguments: Any) -> bool:
        try:
            self._pool.submit(function, *arguments)
            return True
        except RuntimeError:  # the runner is closing
            return False


def quietly(
    what: str, call: Callable[..., Any], *arguments: Any, level: int = logging.DEBUG, **options: Any
) -> None:
    """An engine call whose failure changes nothing here (the object is gone, or no longer running: a
    later look reports its real end); a failure other than NotFound is logged at `level` as `what`."""
    try:
        call(*arguments, **options)
    except NotFound:
        pass
    except (APIError, DockerException) as error:
        log.log(level, "%s: %s", what, message(error))


def message(error: BaseException) -> str:
    return str(getattr(error, "explanation", None) or error)


def daemon_reason(kind: str, error: BaseException) -> str:
    """A container stop reason worded as ECS words it, e.g. CannotPullContainerError: Error response..."""
    return f"{kind}: Error response from daemon: {message(error)}"

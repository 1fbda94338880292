"""Runs each attempt's command as a subprocess on the host (its own session and process group), for
machines without Docker; the image is ignored. Also owns job_environment(), shared with the Docker runner.
Imports runners.base/ownership/process_groups and the standard library only."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from batchemu.runners import ownership
from batchemu.runners.base import ContainerSpec, LogEvent, Phase, RunState
from batchemu.runners.process_groups import GroupRecord, kill_orphans

log = logging.getLogger("batchemu.runners.process")

KILLED_EXIT_CODE = 137  # what a container killed by terminate or timeout reports (128 + SIGKILL)
_INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
# After the main process exits, wait this long for the output pipe to drain before reporting EXITED
# (a background grandchild may hold the pipe open forever).
_LOG_DRAIN_SECONDS = 2.0


def job_environment(spec: ContainerSpec, endpoint: str) -> dict[str, str]:
    """The variables a job sees: what points unmodified AWS SDK code at the emulator, what the ECS agent
    gives every task (metadata endpoints, the job role's credentials endpoint), then the job's own
    environment (AWS_BATCH_* and AWS_EXECUTION_ENV included), which wins on a clash."""
    environment = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if spec.agent_path:
        agent = endpoint.rstrip("/") + spec.agent_path
        environment["ECS_CONTAINER_METADATA_URI"] = f"{agent}/v3"
        environment["ECS_CONTAINER_METADATA_URI_V4"] = f"{agent}/v4"
    if spec.agent_path and _is_loopback(endpoint):
        # As on ECS: no static keys; the SDKs' default chain asks the credentials endpoint. SDKs take a
        # full URI over plain HTTP only on a loopback address, hence static keys anywhere else.
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"{agent}/credentials"
        environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = spec.agent_token
    else:
        # The emulator maps an access key made of 12 digits to that account.
        environment["AWS_ACCESS_KEY_ID"] = spec.account
        environment["AWS_SECRET_ACCESS_KEY"] = spec.secret_access_key
    environment.update(spec.environment)
    return environment


def _is_loopback(endpoint: str) -> bool:
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(eq=False)
class ProcessAttempt:
    spec: ContainerSpec
    process: subprocess.Popen[bytes] | None = None
    failure: str | None = None
    stop_requested: bool = False
    exited_at: float | None = None
    reader: threading.Thread | None = None
    events: list[LogEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProcessRunner:
    """A Runner whose attempts are host processes. stop() sends SIGTERM to the whole process group and
    SIGKILL after `kill_grace_seconds`; a stopped attempt exits with 137, as a killed container does."""

    name = "process"

    def __init__(self, endpoint: str, workdir: str | None = None, kill_grace_seconds: float = 2.0) -> None:
        self._endpoint = endpoint
        self._workdir = workdir
        self._kill_grace_seconds = kill_grace_seconds
        self._warned_about_images = False
        self._attempts: set[ProcessAttempt] = set()
        self._lock = threading.Lock()
        self._groups = GroupRecord(ownership.this_server())  # for the next server, if this one is killed

    def set_endpoint(self, endpoint: str) -> None:
        """Where job containers reach the emulator; known once the server listens."""
        self._endpoint = endpoint

    def start(self, spec: ContainerSpec) -> ProcessAttempt:
        attempt = ProcessAttempt(spec)
        if spec.image and not self._warned_about_images:
            self._warned_about_images = True
            log.warning(
                "the process runner ignores container images (job %s asked for %s)", spec.job_id, spec.image
            )
        if not spec.command:
            attempt.failure = (
                "CannotStartContainerError: the job has no command (the process runner runs no image)"
            )
            return attempt
        try:
            attempt.process = subprocess.Popen(
                spec.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self._environment(spec),
                cwd=self._workdir,
                start_new_session=True,  # its own process group, so stop() reaches every descendant
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
            attempt.failure = (
                f"CannotStartContainerError: cannot execute {spec.command[0]!r}: {error.strerror}"
            )
            return attempt
        except OSError as error:
            attempt.failure = f"CannotStartContainerError: {error}"
            return attempt
        attempt.reader = threading.Thread(
            target=_read_output, args=(attempt,), name=f"batchemu-process-log-{spec.job_id}", daemon=True
        )
        attempt.reader.start()
        with self._lock:
            self._attempts.add(attempt)
        self._groups.add(attempt.process.pid)
        return attempt

    def poll(self, handle: ProcessAttempt) -> RunState:
        if handle.failure is not None:
            return RunState(Phase.FAILED_TO_START, reason=handle.failure)
        assert handle.process is not None
        code = handle.process.poll()
        if code is None:
            return RunState(Phase.RUNNING)
        if handle.exited_at is None:
            handle.exited_at = time.monotonic()
        drained = handle.reader is None or not handle.reader.is_alive()
        if not drained and time.monotonic() - handle.exited_at < _LOG_DRAIN_SECONDS:
            return RunState(Phase.RUNNING)  # the output is still draining; EXITED must come with all logs
        if handle.stop_requested:
            return RunState(Phase.EXITED, exit_code=KILLED_EXIT_CODE)
        return RunState(Phase.EXITED, exit_code=code if code >= 0 else 128 - code)

    def stop(self, handle: ProcessAttempt, reason: str) -> None:
        if handle.process is None or handle.stop_requested:
            return
        handle.stop_requested = True
        pid = handle.process.pid
        _signal_group(pid, signal.SIGTERM)
        timer = threading.Timer(self._kill_grace_seconds, _signal_group, args=(pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def logs(self, handle: ProcessAttempt, since: int) -> list[LogEvent]:
        with handle.lock:
            return handle.events[since:]

    def release(self, handle: ProcessAttempt) -> None:
        """Forget a finished attempt (the scheduler has seen EXITED and drained its logs)."""
        with self._lock:
            self._attempts.discard(handle)
        if handle.process is not None:
            self._groups.discard(handle.process.pid)

    def remove_orphans(self) -> int:
        """Kills the job process groups of servers that are provably gone (a `kill -9`); returns how many."""
        return kill_orphans(self._groups)

    def halt(self, handles: list[ProcessAttempt], timeout: float) -> None:
        """SIGTERM to each attempt's process group, SIGKILL to what is left after a short grace, then wait
        (at most `timeout` seconds in all) for the processes to exit and their output to drain."""
        deadline = time.monotonic() + timeout
        running = [h for h in handles if h.process is not None and h.process.poll() is None]
        for handle in running:
            handle.stop_requested = True
            _signal_group(_pid(handle), signal.SIGTERM)
        grace = time.monotonic() + min(self._kill_grace_seconds, timeout / 3)
        for handle in running:
            _wait(handle, grace)
        for handle in running:  # the group may outlive its leader: always
            _signal_group(_pid(handle), signal.SIGKILL)
        for handle in running:
            _wait(handle, deadline)
            if handle.reader is not None:
                handle.reader.join(max(0.0, deadline - time.monotonic()))
            if handle.exited_at is None:
                handle.exited_at = time.monotonic()

    def close(self, leave_running: bool = False) -> None:
        """Kill every attempt still running: without the emulator nothing would ever collect them (a
        process cannot be re-attached, so `leave_running` changes nothing)."""
        with self._lock:
            attempts, self._attempts = list(self._attempts), set()
        for attempt in attempts:
            if attempt.process is not None and attempt.process.poll() is None:
                _signal_group(attempt.process.pid, signal.SIGKILL)
        self._groups.close()

    def _environment(self, spec: ContainerSpec) -> dict[str, str]:
        inherited = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
        return inherited | job_environment(spec, self._endpoint)


def _read_output(attempt: ProcessAttempt) -> None:
    assert attempt.process is not None and attempt.process.stdout is not None
    with attempt.process.stdout as stream:
        for raw in stream:
            message = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with attempt.lock:
                attempt.events.append(LogEvent(int(time.time() * 1000), message))


def _pid(attempt: ProcessAttempt) -> int:
    assert attempt.process is not None
    return attempt.process.pid


def _wait(attempt: ProcessAttempt, until: float) -> None:
    assert attempt.process is not None
    try:
        attempt.process.wait(max(0.0, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass


def _signal_group(pid: int, signal_number: int) -> None:
    try:
        os.killpg(pid, signal_number)  # the leader's pid is the group id (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass

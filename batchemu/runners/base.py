"""The Runner interface: start(spec) -> handle, poll(handle) -> RunState, stop(handle), logs(handle),
halt(handles) and close() when the server shuts down."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(slots=True)
class ContainerSpec:
    """Everything a runner needs to run one attempt, already resolved by the scheduler. Read-only by
    convention (runners copy it with dataclasses.replace): not frozen, because a frozen dataclass's
    constructor costs 5x more, and every attempt of a 10,000-child array makes one."""

    job_id: str
    attempt: int
    image: str
    command: list[str]
    environment: dict[str, str]
    vcpus: float = 1.0
    memory_mib: int = 2048
    gpus: int = 0
    user: str | None = None
    privileged: bool = False
    readonly_root_filesystem: bool = False
    linux_parameters: dict[str, Any] = field(default_factory=dict)
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mount_points: list[dict[str, Any]] = field(default_factory=list)
    log_stream_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    # Where AWS SDK calls from inside the job go: the job's region and the account its credentials map to.
    # The dummy credentials a job gets: the account id as access key, and this secret, which the
    # emulator accepts even with --auth sigv4 (it is made afresh for each server).
    secret_access_key: str = "batchemu"
    region: str = "us-east-1"
    account: str = "123456789012"
    # Where this attempt's ECS agent endpoints live on the emulator (task metadata, role credentials),
    # relative to its endpoint, and the token the credentials endpoint asks for; "" when there are none.
    agent_path: str = ""
    agent_token: str = ""
    # A container of a multi-container task (TaskSpec): its name, whether the task ends when it does,
    # and the (container name, START | COMPLETE | SUCCESS) conditions it waits for before it starts.
    name: str = "default"
    essential: bool = True
    stop_timeout: float = 30.0  # seconds between SIGTERM and SIGKILL when its task stops it (ECS's default)
    depends_on: list[tuple[str, str]] = field(default_factory=list)
    in_task: bool = False  # a container of a multi-container task: it shares the task's network namespace


@dataclass(slots=True)
class TaskSpec:
    """A multi-container (ecsProperties) attempt: its containers, started by their dependsOn conditions;
    run by runners/tasks.py on any runner that runs ContainerSpecs."""

    job_id: str
    attempt: int
    containers: list[ContainerSpec]
    # An EKS pod: no container stops the others; the task ends once every container has ended, and fails
    # when any of them did not exit 0 (the first such one, in order, gives the exit code).
    pod: bool = False


class Phase(StrEnum):
    STARTING = "STARTING"  # not yet running (pulling, creating)
    RUNNING = "RUNNING"
    EXITED = "EXITED"  # ran and exited; exit_code set
    FAILED_TO_START = "FAILED_TO_START"  # never ran; reason set (e.g. CannotPullContainerError: ...)


@dataclass(frozen=True)
class RunState:
    phase: Phase
    exit_code: int | None = None
    reason: str | None = None  # the container's stop reason, e.g. OutOfMemoryError: ...
    # The job's statusReason when the attempt ended for a reason other than its container's exit,
    # e.g. "Host EC2 (instance i-...) terminated." when the host it ran on went away.
    status_reason: str | None = None
    # A task's containers: (name, exit code, reason) each, once the task has ended.
    containers: tuple[tuple[str, int | None, str | None], ...] = ()


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


class Runner(Protocol):
    name: str

    def start(self, spec: ContainerSpec) -> Any:
        """Begin the attempt without blocking; returns an opaque handle."""

    def poll(self, handle: Any) -> RunState:
        """The attempt's state now; never blocks."""

    def stop(self, handle: Any, reason: str) -> None:
        """Ask the attempt to stop (terminate, timeout); poll later reports it EXITED."""

    def logs(self, handle: Any, since: int) -> list[LogEvent]:
        """Log lines produced from event number `since` on."""

    def halt(self, handles: list[Any], timeout: float) -> None:
        """Stop these attempts now and wait, at most `timeout` seconds, until they have exited with their
        last log lines read, so that poll() reports EXITED (a server shutting down)."""

    def close(self, leave_running: bool = False) -> None:
        """Release everything the runner holds; attempts still running are stopped, unless
        `leave_running` and the runner can re-attach them later (find_running)."""


# Optional runner methods, looked up with getattr:
# - next_change(handle) -> float | None: clock time (seconds) until which poll() keeps its answer unless
#   stop() is called; the scheduler then polls a RUNNING attempt only at that time (None: every tick).
# - unavailable_reason() -> str | None: why nothing can start now (the Docker engine is gone).
# - stop_gracefully(handle, reason, grace_seconds): SIGTERM, then SIGKILL after the grace (a task's other
#   containers when an essential one ends); runners without it stop() them.
# - start_task(spec: TaskSpec) -> handle: begin a multi-container attempt (runners/tasks.TaskRunner adds
#   it to any runner); poll() of its handle reports the task, with each container's result at the end.

"""The job state machine: the (status, event) -> status table and transition(), the only writer of
job.status, statusReason, startedAt, stoppedAt and the attempt records."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from batchemu.domain.models import Attempt, Job
from batchemu.errors import IllegalTransition


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class JobEvent(StrEnum):
    WAIT_FOR_DEPENDENCIES = (
        "WAIT_FOR_DEPENDENCIES"  # unmet dependencies, or an array parent spawning children
    )
    READY = "READY"  # nothing left to wait for: join the queue
    DEPENDENCY_FAILED = "DEPENDENCY_FAILED"
    PLACED = "PLACED"  # given capacity on a compute environment
    CONTAINER_STARTED = "CONTAINER_STARTED"
    START_FAILED_RETRY = "START_FAILED_RETRY"
    START_FAILED = "START_FAILED"
    EXITED_SUCCESS = "EXITED_SUCCESS"
    EXITED_RETRY = "EXITED_RETRY"
    EXITED_FAILURE = "EXITED_FAILURE"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"  # CancelJob, jobStateTimeLimitActions, queue deleted
    TERMINATED = "TERMINATED"  # TerminateJob on a live attempt, once the runner has stopped it
    CHILDREN_SUCCEEDED = "CHILDREN_SUCCEEDED"  # array parent
    CHILD_FAILED = "CHILD_FAILED"  # array parent
    MAIN_NODE_PLACED = "MAIN_NODE_PLACED"  # multi-node parent follows its main node
    MAIN_NODE_STARTED = "MAIN_NODE_STARTED"
    BLOCKED = "BLOCKED"  # stays RUNNABLE with a blocked-queue statusReason (MISCONFIGURATION:...)
    NODE_RETRY = "NODE_RETRY"  # a node of a multi-node job whose whole job is retried runs again


S, E = JobStatus, JobEvent
QUEUED = (S.SUBMITTED, S.PENDING, S.RUNNABLE)

TRANSITIONS: dict[tuple[JobStatus, JobEvent], JobStatus] = {
    (S.SUBMITTED, E.WAIT_FOR_DEPENDENCIES): S.PENDING,
    (S.SUBMITTED, E.READY): S.RUNNABLE,
    (S.PENDING, E.READY): S.RUNNABLE,
    (S.PENDING, E.DEPENDENCY_FAILED): S.FAILED,
    (S.RUNNABLE, E.PLACED): S.STARTING,
    (S.RUNNABLE, E.BLOCKED): S.RUNNABLE,
    (S.RUNNABLE, E.MAIN_NODE_PLACED): S.STARTING,
    (S.STARTING, E.MAIN_NODE_STARTED): S.RUNNING,
    (S.STARTING, E.CONTAINER_STARTED): S.RUNNING,
    (S.STARTING, E.START_FAILED_RETRY): S.RUNNABLE,
    (S.STARTING, E.START_FAILED): S.FAILED,
    (S.STARTING, E.TERMINATED): S.FAILED,
    (S.STARTING, E.TIMED_OUT): S.FAILED,
    (S.RUNNING, E.EXITED_SUCCESS): S.SUCCEEDED,
    (S.RUNNING, E.EXITED_RETRY): S.RUNNABLE,
    (S.RUNNING, E.EXITED_FAILURE): S.FAILED,
    (S.RUNNING, E.TIMED_OUT): S.FAILED,
    (S.RUNNING, E.TERMINATED): S.FAILED,
    (S.PENDING, E.CHILDREN_SUCCEEDED): S.SUCCEEDED,
    (S.PENDING, E.CHILD_FAILED): S.FAILED,
    (S.SUCCEEDED, E.NODE_RETRY): S.PENDING,
    (S.FAILED, E.NODE_RETRY): S.PENDING,
    **{(status, E.CANCELLED): S.FAILED for status in QUEUED},
    **{(status, E.TERMINATED): S.FAILED for status in QUEUED},
}

# Events that end a live attempt, and so record it in job.attempts.
_ENDS_ATTEMPT = {
    E.START_FAILED_RETRY,
    E.START_FAILED,
    E.EXITED_SUCCESS,
    E.EXITED_RETRY,
    E.EXITED_FAILURE,
    E.TIMED_OUT,
    E.TERMINATED,
}
ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited"
TASK_FAILED_TO_START = "Task failed to start"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"


_VALUES: dict[str, str] = {status: status.value for status in JobStatus}
_FINAL = (S.SUCCEEDED, S.FAILED)
_SETS_REASON = (E.READY, E.WAIT_FOR_DEPENDENCIES, E.PLACED)


# Members read once: `JobEvent.PLACED` goes through the enum's metaclass (7x a module global's cost), and
# transition() compares an event with up to eight of them on every move.
_PLACED, _CONTAINER_STARTED, _MAIN_NODE_STARTED = E.PLACED, E.CONTAINER_STARTED, E.MAIN_NODE_STARTED
_NODE_RETRY, _MAIN_NODE_PLACED, _CANCELLED, _TERMINATED = (
    E.NODE_RETRY,
    E.MAIN_NODE_PLACED,
    E.CANCELLED,
    E.TERMINATED,
)

# The same table keyed by job.status as stored: a plain string.
_BY_VALUE = {(status.value, event): target for (status, event), target in TRANSITIONS.items()}


def next_status(status: str, event: JobEvent) -> JobStatus:
    found = _BY_VALUE.get((status, event))
    if found is None:
        raise IllegalTransition(status, event)
    return found


def transition(
    job: Job,
    event: JobEvent,
    now: int,
    *,
    reason: str | None = None,
    attempt: Attempt | None = None,
    exit_code: int | None = None,
    container_reason: str | None = None,
    task_containers: Sequence[tuple[str, int | None, str | None]] = (),
) -> JobStatus:
    """Moves `job` along the table at epoch-millisecond `now` and records what AWS records.

    PLACED takes the new `attempt`; events that end an attempt take its exit code and container reason,
    and for a multi-container job each container's (name, exit code, reason).
    """
    status = next_status(job.status, event)
    if event is _PLACED:
        if attempt is None:
            raise ValueError("PLACED needs the attempt being started")
        attempt.placed_at = now
        job.current_attempt = attempt
        job.scheduled_at = job.scheduled_at or now
    elif event is _CONTAINER_STARTED:
        _start_attempt(job, now)
    elif event is _MAIN_NODE_STARTED:
        job.started_at = now
    elif event is _NODE_RETRY:  # its attempts stay: the next one is added to them
        job.stopped_at, job.is_cancelled, job.is_terminated = None, False, False
    elif event in _ENDS_ATTEMPT:
        ended = job.current_attempt
        _end_attempt(job, now, reason, exit_code, container_reason)
        if ended is not None and task_containers:
            _record_task_containers(ended, task_containers)
    elif event is _MAIN_NODE_PLACED:
        job.scheduled_at = job.scheduled_at or now
    if status != job.status:
        # The plain string: a history tuple of plain values is one the garbage collector stops tracking.
        job.status = _VALUES[status]
        job.status_changed_at = now
    if reason is not None or event in _SETS_REASON:
        if reason != job.status_reason:
            job.reason_changed_at = now
        job.status_reason = reason
    job.history.append((now, job.status, job.status_reason))
    if status in _FINAL:
        job.stopped_at = now
        if event is _CANCELLED:
            job.is_cancelled = True
        elif event is _TERMINATED:
            job.is_terminated = True
    return status


def _start_attempt(job: Job, now: int) -> None:
    attempt = job.current_attempt
    if attempt is None:
        raise ValueError("CONTAINER_STARTED without a placed attempt")
    attempt.started_at = now
    job.started_at = now  # AWS reports the start of the latest attempt


def _end_attempt(
    job: Job, now: int, reason: str | None, exit_code: int | None, container_reason: str | None
) -> None:
    attempt = job.current_attempt
    if attempt is None:  # TerminateJob on a job that never started has no attempt to record
        return
    attempt.stopped_at = now
    attempt.status_reason = reason
    attempt.container.exit_code = exit_code
    attempt.container.reason = container_reason
    # run_handle stays until the log shipper has taken the attempt's last lines and released it
    job.attempts.append(attempt)
    job.current_attempt = None


def _record_task_containers(attempt: Attempt, results: Sequence[tuple[str, int | None, str | None]]) -> None:
    by_name = {container.name: container for container in attempt.task_containers}
    for name, exit_code, container_reason in results:
        found = by_name.get(name)
        if found is not None:
            found.exit_code, found.reason = exit_code, container_reason
            if exit_code is None:  # it never ran: no log stream (the shipper creates none either)
                found.log_stream_name = None

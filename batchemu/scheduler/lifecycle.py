"""Live attempts: starting them on the runner, polling STARTING/RUNNING jobs, stopping them on terminate
and timeout, and deciding between SUCCEEDED, retry and FAILED when they end."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from batchemu.domain import params, retry, task_tags, tasks
from batchemu.domain.models import ComputeEnvironment, Job, JobQueue
from batchemu.domain.states import (
    ESSENTIAL_CONTAINER_EXITED,
    TASK_FAILED_TO_START,
    TIMEOUT_REASON,
    JobEvent,
)
from batchemu.domain.store import Backend
from batchemu.runners.base import Phase, Runner, RunState
from batchemu.scheduler.capacity import CapacityLedger
from batchemu.scheduler.specs import Launch, container_spec, task_spec

log = logging.getLogger("batchemu.scheduler")

# Enum members read once (through the enum's metaclass each read costs 7x a global's; these are read for
# every attempt, twice).
_FAILED_TO_START = Phase.FAILED_TO_START
_STARTED = (Phase.RUNNING, Phase.EXITED)
_ENDED = (Phase.EXITED, Phase.FAILED_TO_START)
_CONTAINER_STARTED, _EXITED_SUCCESS = JobEvent.CONTAINER_STARTED, JobEvent.EXITED_SUCCESS


def ledger_of(backend: Backend) -> CapacityLedger:
    """Capacity held right now by STARTING and RUNNING attempts (kept by backend.work as they move)."""
    ledger = CapacityLedger()
    for arn, (vcpus, memory, gpus) in backend.work.capacity.items():
        ledger.hold(arn, params.Requirements(vcpus, int(memory), int(gpus)))
    return ledger


def start_attempt(
    backend: Backend,
    job: Job,
    queue: JobQueue,
    environment: ComputeEnvironment,
    runner: Runner,
    launch: Launch | None = None,
    now: int = 0,
) -> None:
    attempt = job.current_attempt
    assert attempt is not None
    if job.propagate_tags:
        attempt.start_error = task_tags.too_many_tags(
            job, backend.find_job_definition(job.job_definition_arn)
        )
        if attempt.start_error is not None:
            return
    try:
        if tasks.runs_as_task(job):
            start_task = getattr(runner, "start_task", None)
            if start_task is None:
                raise NotImplementedError(f"the {runner.name} runner does not run multi-container jobs")
            attempt.run_handle = start_task(task_spec(backend, job, queue, environment, launch, now))
        else:
            attempt.run_handle = runner.start(container_spec(backend, job, queue, environment, launch, now))
    except Exception as error:  # a runner failure must fail the attempt, never the scheduler
        log.exception("runner could not start job %s", job.id)
        attempt.start_error = f"CannotStartContainerError: {type(error).__name__}: {error}"


def _poll(runner: Runner, job: Job) -> RunState:
    attempt = job.current_attempt
    if attempt is not None and attempt.start_error is not None:
        return RunState(Phase.FAILED_TO_START, reason=attempt.start_error)
    handle = attempt.run_handle if attempt else None
    if handle is None:
        return RunState(Phase.FAILED_TO_START, reason="Task failed to start: no container")
    try:
        return runner.poll(handle)
    except Exception as error:
        log.exception("runner could not poll job %s", job.id)
        return RunState(Phase.EXITED, exit_code=None, reason=f"{type(error).__name__}: {error}")


def advance_live(
    backend: Backend, now: int, runner: Runner, move: Callable[..., None], starting_dwell_ms: int = 0
) -> bool:
    """STARTING jobs every tick (they are few and brief); RUNNING jobs when they may have changed: new,
    asked to stop, their timeout due, or when the runner said their state may change (`next_change`)."""
    changed = False
    starting = backend.jobs_by_status["STARTING"]
    if starting:
        instance_of = getattr(runner, "container_instance_id", None)
        for job in list(starting.values()):
            if job.is_multi_node_parent:
                continue  # follows its main node (scheduler/multinode.py)
            if now - job.status_changed_at >= starting_dwell_ms or job.pending_stop_reason is not None:
                changed |= _advance_starting(job, now, runner, move, instance_of)
    work = backend.work
    polls = work.drain_polls(now)
    next_change = getattr(runner, "next_change", None) if polls else None
    for job_id in polls:
        running = backend.jobs.get(job_id)
        if running is None or running.status != "RUNNING" or running.is_multi_node_parent:
            continue
        if _advance_running(running, now, runner, move):
            changed = True
        else:
            work.poll_at(running.id, _next_poll(running, now, runner, next_change))
    return changed


def _next_poll(
    job: Job, now: int, runner: Runner, next_change: Callable[[Any], float | None] | None
) -> int | None:
    """When a RUNNING job needs polling again: the earlier of its timeout and the runner's next change;
    None (every tick) when the runner cannot tell."""
    attempt = job.current_attempt
    if next_change is None or attempt is None or attempt.run_handle is None or job.pending_stop_reason:
        return None
    try:
        change = next_change(attempt.run_handle)
    except Exception:
        log.exception("runner could not tell when job %s changes", job.id)
        return None
    if change is None:
        return None
    due = math.ceil(change * 1000)
    timeout = (job.timeout or {}).get("attempt_duration_seconds")
    if timeout is not None and attempt.started_at is not None:
        due = min(due, attempt.started_at + int(timeout * 1000))
    return max(due, now + 1)


def _advance_starting(
    job: Job,
    now: int,
    runner: Runner,
    move: Callable[..., None],
    instance_of: Callable[[Any], str | None] | None,
) -> bool:
    state = _poll(runner, job)
    if job.pending_stop_reason is not None and state.phase is not _FAILED_TO_START:
        _stop(runner, job)
        move(job, JobEvent.TERMINATED, now, reason=job.pending_stop_reason, container_reason=None)
        return True
    if state.phase is _FAILED_TO_START:
        attempts = job.attempt_count
        event = JobEvent.START_FAILED
        if job.pending_stop_reason is None and retry.should_retry(
            job.retry_strategy, attempts, TASK_FAILED_TO_START, state.reason, None
        ):
            event = JobEvent.START_FAILED_RETRY
        move(
            job,
            event,
            now,
            reason=job.pending_stop_reason or TASK_FAILED_TO_START,
            container_reason=state.reason,
            task_containers=state.containers,
        )
        return True
    if state.phase in _STARTED:
        if instance_of is not None:
            _record_container_instance(instance_of, job)
        move(job, _CONTAINER_STARTED, now)
        return True
    return False


def _record_container_instance(instance_of: Callable[[Any], str | None], job: Job) -> None:
    """Runners with several hosts (swarm) say which one the attempt runs on (their
    `container_instance_id`): its container instance."""
    attempt = job.current_attempt
    if attempt is None or attempt.run_handle is None:
        return
    instance_id = instance_of(attempt.run_handle)
    arn = attempt.container.container_instance_arn
    if instance_id and arn:
        attempt.container.container_instance_arn = f"{arn.rsplit('/', 1)[0]}/{instance_id}"


def _advance_running(job: Job, now: int, runner: Runner, move: Callable[..., None]) -> bool:
    attempt = job.current_attempt
    assert attempt is not None
    if job.pending_stop_reason is not None:
        _stop(runner, job)
    timeout = (job.timeout or {}).get("attempt_duration_seconds")
    timed_out = (
        timeout is not None and attempt.started_at is not None and now - attempt.started_at >= timeout * 1000
    )
    if timed_out and job.pending_stop_reason is None:
        job.pending_stop_reason = TIMEOUT_REASON
        _stop(runner, job)
    state = _poll(runner, job)
    if state.phase not in _ENDED:
        return False
    exit_code, reason = state.exit_code, state.reason
    ended = state.status_reason or ESSENTIAL_CONTAINER_EXITED
    if job.pending_stop_reason == TIMEOUT_REASON:
        event, why = JobEvent.TIMED_OUT, TIMEOUT_REASON
    elif job.pending_stop_reason is not None:
        event, why = JobEvent.TERMINATED, job.pending_stop_reason
    elif exit_code == 0:
        event, why = _EXITED_SUCCESS, ESSENTIAL_CONTAINER_EXITED
    elif retry.should_retry(job.retry_strategy, job.attempt_count, ended, reason, exit_code):
        event, why = JobEvent.EXITED_RETRY, ended
    else:
        event, why = JobEvent.EXITED_FAILURE, ended
    move(
        job,
        event,
        now,
        reason=why,
        exit_code=exit_code,
        container_reason=reason,
        task_containers=state.containers,
    )
    job.pending_stop_reason = None
    return True


def stop_now(runner: Runner, job: Job) -> None:
    """Stops the live attempt's work on the runner without a stop reason (its host is gone)."""
    attempt = job.current_attempt
    if attempt is None or attempt.stop_requested or attempt.run_handle is None:
        return
    attempt.stop_requested = True
    try:
        runner.stop(attempt.run_handle, "host terminated")
    except Exception:
        log.exception("runner could not stop job %s", job.id)


def _stop(runner: Runner, job: Job) -> None:
    attempt = job.current_attempt
    if attempt is None or attempt.stop_requested or attempt.run_handle is None:
        return
    attempt.stop_requested = True
    try:
        runner.stop(attempt.run_handle, job.pending_stop_reason or "stopped")
    except Exception:
        log.exception("runner could not stop job %s", job.id)

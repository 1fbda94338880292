"""Live attempts: starting them on the runner, polling STARTING/RUNNING jobs, stopping them on terminate
and timeout, and deciding between SUCCEEDED, retry and FAILED when they end."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.domain import host_access, params, retry, task_tags, tasks
from batchemu.domain.host_access import HostAccessPolicy
from batchemu.domain.models import ComputeEnvironment, Job, JobQueue, Spec
from batchemu.domain.states import (
    ESSENTIAL_CONTAINER_EXITED,
    TASK_FAILED_TO_START,
    TIMEOUT_REASON,
    JobEvent,
)
from batchemu.domain.store import Backend
from batchemu.runners.base import ContainerSpec, Phase, Runner, RunState, TaskSpec
from batchemu.scheduler.capacity import CapacityLedger

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


@dataclass(frozen=True)
class Launch:
    """How this server starts containers: the secret of the credentials jobs get, and what of the host
    they may use."""

    job_secret: str = "batchemu"
    host_access: HostAccessPolicy = field(default_factory=HostAccessPolicy)


# ContainerSpec's fields in constructor order, by where their values come from: the container's (head,
# middle, tail: worked out once per container) and the attempt's. Built positionally (a third of the cost
# of keywords, once per attempt); a change to ContainerSpec's fields fails here, at import.
_HEAD = ("image", "command")
_MIDDLE = (
    "vcpus",
    "memory_mib",
    "gpus",
    "user",
    "privileged",
    "readonly_root_filesystem",
    "linux_parameters",
    "ulimits",
    "volumes",
    "mount_points",
)
_TAIL = ("name", "essential", "stop_timeout", "depends_on", "in_task")
_PER_ATTEMPT = (
    "log_stream_name",
    "labels",
    "secret_access_key",
    "region",
    "account",
    "agent_path",
    "agent_token",
)
if tuple(f.name for f in dataclasses.fields(ContainerSpec)) != (
    "job_id",
    "attempt",
    *_HEAD,
    "environment",
    *_MIDDLE,
    *_PER_ATTEMPT,
    *_TAIL,
):
    raise ImportError("ContainerSpec's fields changed: update lifecycle's positional layout")


@dataclass(frozen=True)
class _Prepared:
    """What an attempt's spec takes from its container alone: what confining took away, the container's
    environment, and the spec's fields that do not change from one attempt to the next (shared by the
    specs: a ContainerSpec is read-only by convention), in ContainerSpec's order."""

    warnings: list[str]
    environment: dict[str, str]
    head: tuple[str, list[str]]
    # (queue, compute environment, platform, array child, array size) -> the container's environment with
    # AWS Batch's variables: copied, and the attempt's own filled in, for each attempt (_environment).
    env_templates: dict[tuple[str, str, str, bool, int | None], dict[str, str]]
    middle: tuple[float, int, int, str | None, bool, bool, dict[str, Any], list[Any], list[Any], list[Any]]
    tail: tuple[str, bool, float, list[tuple[str, str]], bool]


def _prepare(container: Spec, key: tuple[HostAccessPolicy, bool]) -> _Prepared:
    policy, in_task = key
    confined, warnings = host_access.confine(container, policy)
    need = params.requirements(confined)
    task_container = container if in_task else {}
    head = (confined.get("image", ""), list(confined.get("command", [])))
    middle = (
        need.vcpus,
        need.memory_mib,
        need.gpus,
        confined.get("user"),
        bool(confined.get("privileged")),
        bool(confined.get("readonly_root_filesystem")),
        confined.get("linux_parameters") or {},
        confined.get("ulimits") or [],
        confined.get("volumes") or [],
        confined.get("mount_points") or [],
    )
    depends_on = [
        (entry.get("container_name") or "", entry.get("condition") or "START")
        for entry in task_container.get("depends_on") or []
    ]
    tail = (
        task_container.get("name") or "default",
        tasks.is_essential(task_container),
        float(task_container.get("stop_timeout") or 30),
        depends_on,
        in_task,
    )
    return _Prepared(warnings, params.container_environment(confined), head, {}, middle, tail)


# Array children share their parent's container, and jobs that change nothing their definition's.
_PREPARED = params.PerContainer(_prepare)


def container_spec(
    backend: Backend,
    job: Job,
    queue: JobQueue,
    environment: ComputeEnvironment,
    launch: Launch | None = None,
    now: int = 0,
    container: Spec | None = None,
    log_stream_name: str | None = None,
) -> ContainerSpec:
    """The spec of the job's container, or of `container`, one of a multi-container job's."""
    attempt = job.current_attempt
    assert attempt is not None
    launch = launch or Launch()
    chosen = job.container if container is None else container
    prepared = _PREPARED(chosen or {}, (launch.host_access, container is not None))
    for warning in prepared.warnings:  # said once per attempt, in the server log and in the job's history
        log.warning("job %s: %s", job.id, warning)
        job.history.append((now, job.status, f"batchemu: {warning}"))
    env = _environment(prepared, job, attempt.number, queue.name, environment)
    labels = {"batchemu.job-id": job.id, "batchemu.attempt": str(attempt.number)}
    if container is not None:
        labels["batchemu.container"] = container.get("name") or ""
    # In ContainerSpec's order (checked at import; mypy cannot follow several unpacked tuples).
    values: tuple[Any, ...] = (
        job.id,
        attempt.number,
        *prepared.head,
        env,
        *prepared.middle,
        log_stream_name or attempt.container.log_stream_name or "",
        labels,
        launch.job_secret,
        backend.region,
        backend.account,
        params.agent_path(backend.account, backend.region, job.id, attempt.number, container),
        params.agent_token(launch.job_secret, job.id, attempt.number),
        *prepared.tail,
    )
    return ContainerSpec(*values)


def _environment(
    prepared: _Prepared, job: Job, attempt: int, queue_name: str, environment: ComputeEnvironment
) -> dict[str, str]:
    """The container's environment, then AWS Batch's variables, then AWS_EXECUTION_ENV: for all but
    multi-node jobs, a copy of a template per queue and compute environment with the attempt's own
    values put in their places (the same keys in the same order, at a fraction of the cost)."""
    platform = environment.platform
    if job.node_index is not None:
        env = prepared.environment | params.batch_environment(job, attempt, queue_name, environment.name)
        env["AWS_EXECUTION_ENV"] = f"AWS_ECS_{platform}"
        return env
    is_child = job.array_index is not None
    key = (queue_name, environment.name, platform, is_child, job.array_size)
    template = prepared.env_templates.get(key)
    if template is None:
        template = prepared.environment | params.batch_environment_template(
            queue_name, environment.name, is_child, job.array_size
        )
        template["AWS_EXECUTION_ENV"] = f"AWS_ECS_{platform}"
        if len(prepared.env_templates) >= 64:
            prepared.env_templates.clear()
        prepared.env_templates[key] = template
    env = template.copy()
    params.fill_batch_environment(env, job, attempt)
    return env


def task_spec(
    backend: Backend,
    job: Job,
    queue: JobQueue,
    environment: ComputeEnvironment,
    launch: Launch | None = None,
    now: int = 0,
) -> TaskSpec:
    """Every container of a multi-container job, each with its own log stream."""
    attempt = job.current_attempt
    assert attempt is not None
    streams = {container.name: container.log_stream_name for container in attempt.task_containers}
    containers = [
        container_spec(
            backend, job, queue, environment, launch, now, container, streams.get(container.get("name") or "")
        )
        for container in tasks.job_containers(job)
    ]
    return TaskSpec(job.id, attempt.number, containers, pod=job.ecs_properties is None)


def saved_task_spec(backend: Backend, job: Job, launch: Launch | None = None) -> TaskSpec | None:
    """The spec of a multi-container job's current attempt, rebuilt from the saved job (a restart); None
    when its queue or compute environment is gone. The job's history keeps what the first start said."""
    attempt = job.current_attempt
    if attempt is None:
        return None
    queue = backend.find_job_queue(job.job_queue_arn)
    environment = backend.find_compute_environment(attempt.compute_environment_arn)
    if queue is None or environment is None:
        return None
    history = list(job.history)
    spec = task_spec(backend, job, queue, environment, launch, attempt.started_at or 0)
    job.history[:] = history
    return spec


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

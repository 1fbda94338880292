"""What a runner is given for an attempt: the ContainerSpec of a job's container (or each of a
multi-container job's, in a TaskSpec), built from the job, its queue and compute environment, and how this
server launches containers (Launch)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from batchemu.domain import host_access, params, tasks
from batchemu.domain.host_access import HostAccessPolicy
from batchemu.domain.models import ComputeEnvironment, Job, JobQueue, Spec
from batchemu.domain.store import Backend
from batchemu.runners.base import ContainerSpec, TaskSpec

log = logging.getLogger("batchemu.scheduler")


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

"""The containers of an attempt's task as the ECS agent knows them (name, status, exit code, Docker id, log
stream, limits): the one container of a plain job, or every container of a multi-container one, live
from the runner's task handle while it runs. Imports domain only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from batchemu.domain import params, tasks
from batchemu.domain.models import Attempt, Job, Spec

SINGLE_CONTAINER_NAME = "default"  # AWS Batch names a job's container "default" (<prefix>/default/<task>)


@dataclass(frozen=True)
class TaskContainer:
    name: str
    spec: Spec  # its container properties (image, log configuration)
    docker_id: str
    known_status: str  # ECS's: PENDING (not started), RUNNING, STOPPED
    exit_code: int | None
    log_stream_name: str
    vcpus: float
    memory: int


def task_containers(job: Job, attempt: Attempt) -> list[TaskContainer]:
    running = attempt.stopped_at is None
    if not attempt.task_containers:
        task_id = (attempt.container.task_arn or "").rsplit("/", 1)[-1]
        return [
            TaskContainer(
                SINGLE_CONTAINER_NAME,
                job.container or {},
                task_id,
                "RUNNING" if running else "STOPPED",
                attempt.container.exit_code,
                attempt.container.log_stream_name or "",
                attempt.vcpus,
                attempt.memory,
            )
        ]
    results = {result.name: result for result in attempt.task_containers}
    live = _live_states(attempt.run_handle) if running else {}
    found = []
    for spec in tasks.containers(job.ecs_properties):
        name = spec.get("name") or ""
        result = results.get(name)
        status, exit_code, docker_id = live.get(name) or (
            "STOPPED",
            result.exit_code if result is not None else None,
            None,
        )
        need = params.requirements(spec)
        found.append(
            TaskContainer(
                name,
                spec,
                docker_id or _made_up_docker_id(attempt, name),
                status,
                exit_code,
                (result.log_stream_name if result is not None else None) or "",
                need.vcpus,
                need.memory_mib,
            )
        )
    return found


def _live_states(handle: Any) -> dict[str, tuple[str, int | None, str | None]]:
    """(status, exit code, Docker id) by container name from the runner's task handle (runners/tasks.py)."""
    states = getattr(handle, "container_states", None)
    return {name: (status, code, docker_id) for name, status, code, docker_id in states()} if states else {}


def _made_up_docker_id(attempt: Attempt, name: str) -> str:
    """64 hex digits, stable for the attempt and container, where the runner has no Docker id."""
    return hashlib.sha256(f"{attempt.container.task_arn}/{name}".encode()).hexdigest()

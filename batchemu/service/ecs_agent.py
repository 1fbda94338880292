"""What the ECS agent serves a running task, answered for a job's attempt: task metadata endpoint v3 and
v4 (container, task, stats) and the job role's credentials (the container credentials provider's format).
Plain dicts in ECS's own PascalCase shapes; server.py routes /_batchemu/ecs/... here."""

from __future__ import annotations

import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from batchemu.domain import params
from batchemu.domain.models import Attempt, Job
from batchemu.domain.store import Backend, Store
from batchemu.domain.task_tags import task_tags
from batchemu.integrations.cloudwatch_logs import log_target
from batchemu.service.task_containers import TaskContainer, task_containers

CREDENTIAL_HOURS = 6


class AgentError(Exception):
    """An agent request that cannot be answered; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def answer(store: Store, path: str, authorization: str, secret: str, now: float) -> dict[str, Any]:
    """The body for `path` (below /_batchemu/ecs/): `<account>/<region>/<job id>/<attempt>/<what>`, where
    <what> is v3 or v4 (container), v3/task, v4/task, v4/taskWithTags, v3|v4/stats, v3|v4/task/stats, or
    credentials (which needs the attempt's token in the Authorization header). A container of a
    multi-container task has its own base, `.../<attempt>/container/<name>` (params.agent_path)."""
    parts = path.strip("/").split("/")
    if len(parts) < 5 or not parts[3].isdigit():
        raise AgentError(404, f"No ECS agent route {path}")
    account, region, job_id, number, what = (
        parts[0],
        parts[1],
        urllib.parse.unquote(parts[2]),
        int(parts[3]),
        parts[4:],
    )
    name = None
    if what[0] == "container" and len(what) >= 3:
        name, what = urllib.parse.unquote(what[1]), what[2:]
    with store.lock:
        backend = next((b for b in store.backends() if (b.account, b.region) == (account, region)), None)
        job = backend.jobs.get(job_id) if backend is not None else None
        attempt = _attempt(job, number) if job is not None else None
        if backend is None or job is None or attempt is None:
            raise AgentError(404, f"No task for job {job_id} attempt {number}")
        if what == ["credentials"]:
            if not hmac.compare_digest(authorization, params.agent_token(secret, job_id, number)):
                raise AgentError(403, "The authorization token does not belong to this task")
            return _credentials(backend, job, secret, now)
        if what[0] not in ("v3", "v4"):
            raise AgentError(404, f"No ECS agent route {path}")
        rest = what[1:]
        if rest == []:
            return container_metadata(backend, job, attempt, _one(job, attempt, name))
        if rest in (["task"], ["taskWithTags"]):
            return task_metadata(backend, job, attempt, with_tags=rest == ["taskWithTags"])
        if rest in (["stats"], ["task", "stats"]):
            return {}  # docker stats are not emulated; an empty object is what a stopped container shows
        raise AgentError(404, f"No ECS agent route {path}")


def _attempt(job: Job, number: int) -> Attempt | None:
    if job.current_attempt is not None and job.current_attempt.number == number:
        return job.current_attempt
    return next((attempt for attempt in job.attempts if attempt.number == number), None)


def _one(job: Job, attempt: Attempt, name: str | None) -> TaskContainer:
    found = task_containers(job, attempt)
    chosen = next((container for container in found if container.name == name), None)
    if chosen is None and name is not None:
        raise AgentError(404, f"No container {name} in the task of job {job.id}")
    return chosen or found[0]


def container_metadata(
    backend: Backend, job: Job, attempt: Attempt, container: TaskContainer | None = None
) -> dict[str, Any]:
    """Metadata v4 of one container of the attempt's task (its only one, unless `container` is given)."""
    container = container or task_containers(job, attempt)[0]
    task_arn = attempt.container.task_arn or ""
    family, revision = _family_revision(job)
    cluster = _cluster(backend, attempt)
    stopped = container.known_status == "STOPPED"
    return {
        "DockerId": container.docker_id,
        "Name": container.name,
        "DockerName": f"ecs-{family}-{revision}-{container.name}",
        "Image": container.spec.get("image", ""),
        "ImageID": "",
        "Labels": {
            "com.amazonaws.ecs.cluster": cluster,
            "com.amazonaws.ecs.container-name": container.name,
            "com.amazonaws.ecs.task-arn": task_arn,
            "com.amazonaws.ecs.task-definition-family": family,
            "com.amazonaws.ecs.task-definition-version": revision,
        },
        "DesiredStatus": "STOPPED" if attempt.stopped_at is not None else "RUNNING",
        "KnownStatus": container.known_status,
        **({"ExitCode": container.exit_code} if stopped and container.exit_code is not None else {}),
        "Limits": {"CPU": int(container.vcpus * 1024), "Memory": container.memory},
        "CreatedAt": _iso(attempt.placed_at),
        "StartedAt": _iso(attempt.started_at),
        "Type": "NORMAL",
        "LogDriver": "awslogs",
        "LogOptions": {
            "awslogs-group": log_target(container.spec),
            "awslogs-region": backend.region,
            "awslogs-stream": container.log_stream_name,
        },
        "ContainerARN": f"arn:aws:ecs:{backend.region}:{backend.account}:container/{cluster}/"
        + container.docker_id[:32],
        "Networks": [{"NetworkMode": "host", "IPv4Addresses": ["127.0.0.1"]}],
    }


def task_metadata(backend: Backend, job: Job, attempt: Attempt, with_tags: bool = False) -> dict[str, Any]:
    family, revision = _family_revision(job)
    environment = backend.find_compute_environment(attempt.compute_environment_arn)
    running = attempt.stopped_at is None
    task: dict[str, Any] = {
        "Cluster": environment.ecs_cluster_arn if environment is not None else "",
        "TaskARN": attempt.container.task_arn or "",
        "Family": family,
        "Revision": revision,
        "DesiredStatus": "RUNNING" if running else "STOPPED",
        "KnownStatus": "RUNNING" if running else "STOPPED",
        "Limits": {"CPU": attempt.vcpus, "Memory": attempt.memory},
        "PullStartedAt": _iso(attempt.placed_at),
        "PullStoppedAt": _iso(attempt.placed_at),
        "AvailabilityZone": f"{backend.region}a",
        "LaunchType": environment.platform if environment is not None else "EC2",
        "Containers": [
            container_metadata(backend, job, attempt, container)
            for container in task_containers(job, attempt)
        ],
    }
    if attempt.container.container_instance_arn:
        task["ContainerInstanceARN"] = attempt.container.container_instance_arn
    if with_tags:
        task["TaskTags"] = task_tags(job, backend.find_job_definition(job.job_definition_arn))
        task["ContainerInstanceTags"] = {}
    return task


def _credentials(backend: Backend, job: Job, secret: str, now: float) -> dict[str, Any]:
    """The job role's credentials, as the ECS agent hands them out. The key pair is the one this emulator
    maps to the job's account (access key = account id, the server's job secret)."""
    task = ((job.ecs_properties or {}).get("task_properties") or [{}])[0]
    role = (job.container or {}).get("job_role_arn") or task.get("task_role_arn") or ""
    return {
        "AccessKeyId": backend.account,
        "SecretAccessKey": secret,
        "Token": f"batchemu-{job.id}",
        "Expiration": _iso(int((now + CREDENTIAL_HOURS * 3600) * 1000)),
        "RoleArn": role,
    }


def _family_revision(job: Job) -> tuple[str, str]:
    """The task definition AWS Batch registers for a job definition: its name and revision."""
    name_revision = job.job_definition_arn.rsplit("/", 1)[-1]
    name, _, revision = name_revision.rpartition(":")
    return (name or name_revision), (revision or "1")


def _cluster(backend: Backend, attempt: Attempt) -> str:
    environment = backend.find_compute_environment(attempt.compute_environment_arn)
    return (environment.ecs_cluster_arn or "") if environment is not None else ""


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    return moment.isoformat().replace("+00:00", "Z")

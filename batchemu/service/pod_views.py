"""eksProperties jobs rendered as DescribeJobs shows them: `eksProperties.podProperties` with the pod's
name, node and each container's exit code and reason, and `eksAttempts`. snake_case for the serializer."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from batchemu.domain import pods
from batchemu.domain.models import Attempt, Job, TaskContainerAttempt
from batchemu.domain.store import Backend


def pod_name(attempt: Attempt) -> str:
    """`aws-batch.<uuid>`, as AWS Batch names a job's pod; stable for the attempt."""
    task_id = (attempt.container.task_arn or "").rsplit("/", 1)[-1]
    return f"aws-batch.{uuid.UUID(hex=hashlib.md5(task_id.encode()).hexdigest())}"


def node_name(backend: Backend, attempt: Attempt) -> str:
    """An EC2 node's private DNS name, stable for the attempt's container instance."""
    digest = hashlib.md5((attempt.container.container_instance_arn or "").encode()).digest()
    return f"ip-10-0-{digest[0]}-{digest[1]}.{backend.region}.compute.internal"


def eks_properties_detail(backend: Backend, job: Job) -> dict[str, Any]:
    properties = job.eks_properties or {}
    detail = dict(pods.pod(properties))
    attempt = job.current_attempt or (job.attempts[-1] if job.attempts else None)
    results = {c.name: c for c in attempt.task_containers} if attempt is not None else {}
    for key in ("containers", "init_containers"):
        detail[key] = [
            {**container, **_result(results.get(container.get("name") or ""))}
            for container in detail.get(key) or []
        ]
    if attempt is not None:
        detail["pod_name"] = pod_name(attempt)
        detail["node_name"] = node_name(backend, attempt)
    return {**properties, "pod_properties": detail}


def eks_attempt_detail(backend: Backend, job: Job, attempt: Attempt) -> dict[str, Any]:
    results = {c.name: c for c in attempt.task_containers}
    pod = pods.pod(job.eks_properties)
    environment = backend.find_compute_environment(attempt.compute_environment_arn)
    eks = (environment.eks_configuration if environment is not None else None) or {}
    return {
        "containers": [_attempt_container(c, results) for c in pod.get("containers") or []],
        "init_containers": [_attempt_container(c, results) for c in pod.get("init_containers") or []],
        "eks_cluster_arn": eks.get("eks_cluster_arn"),
        "pod_name": pod_name(attempt),
        "pod_namespace": eks.get("kubernetes_namespace"),
        "node_name": node_name(backend, attempt),
        "started_at": attempt.started_at,
        "stopped_at": attempt.stopped_at,
        "status_reason": attempt.status_reason,
    }


def _attempt_container(container: dict[str, Any], results: dict[str, TaskContainerAttempt]) -> dict[str, Any]:
    name = container.get("name") or ""
    return {"name": name, **_result(results.get(name))}


def _result(found: TaskContainerAttempt | None) -> dict[str, Any]:
    if found is None:
        return {}
    return {"exit_code": found.exit_code, "reason": found.reason}

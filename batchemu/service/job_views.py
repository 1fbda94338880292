"""Jobs rendered as API output dicts (snake_case; the serializer gives them wire names): JobDetail for
DescribeJobs and JobSummary for ListJobs."""

from __future__ import annotations

from typing import Any

from batchemu.domain import arrays, tasks
from batchemu.domain.models import Attempt, Job, TaskContainerAttempt
from batchemu.domain.store import Backend
from batchemu.service import pod_views


def job_detail(backend: Backend, job: Job) -> dict[str, Any]:
    return {
        "job_arn": job.arn,
        "job_name": job.name,
        "job_id": job.id,
        "job_queue": job.job_queue_arn,
        "status": job.status,
        "share_identifier": job.share_identifier,
        "scheduling_priority": job.scheduling_priority,
        "attempts": [attempt_detail(attempt) for attempt in job.attempts]
        if job.eks_properties is None
        else [],
        "eks_attempts": [pod_views.eks_attempt_detail(backend, job, attempt) for attempt in job.attempts]
        if job.eks_properties is not None
        else None,
        "status_reason": job.status_reason,
        "created_at": job.created_at,
        "retry_strategy": job.retry_strategy,
        "started_at": job.started_at,
        "stopped_at": job.stopped_at,
        "depends_on": [{"job_id": d.job_id, "type": d.type} for d in job.depends_on],
        "job_definition": job.job_definition_arn,
        "parameters": job.parameters,
        "container": container_detail(job) if job.container is not None else None,
        "node_properties": job.node_properties if job.is_multi_node_parent else None,
        "node_details": (
            {"node_index": job.node_index, "is_main_node": job.is_main_node}
            if job.node_index is not None
            else None
        ),
        "array_properties": array_properties(backend, job),
        "timeout": job.timeout,
        "tags": job.tags or None,
        "propagate_tags": job.propagate_tags,
        "platform_capabilities": job.platform_capabilities,
        "ecs_properties": ecs_properties_detail(job) if job.ecs_properties is not None else None,
        "eks_properties": pod_views.eks_properties_detail(backend, job)
        if job.eks_properties is not None
        else None,
        "is_cancelled": job.is_cancelled,
        "is_terminated": job.is_terminated,
        "consumable_resource_properties": job.consumable_resource_properties,
    }


def attempt_detail(attempt: Attempt) -> dict[str, Any]:
    if attempt.task_containers:  # a multi-container job: its containers are in taskProperties
        return {
            "task_properties": [
                {
                    "container_instance_arn": attempt.container.container_instance_arn,
                    "task_arn": attempt.container.task_arn,
                    "containers": [
                        _task_container_result(container, attempt) for container in attempt.task_containers
                    ],
                }
            ],
            "started_at": attempt.started_at,
            "stopped_at": attempt.stopped_at,
            "status_reason": attempt.status_reason,
        }
    return {
        "container": {
            "container_instance_arn": attempt.container.container_instance_arn,
            "task_arn": attempt.container.task_arn,
            "exit_code": attempt.container.exit_code,
            "reason": attempt.container.reason,
            "log_stream_name": attempt.container.log_stream_name if attempt.started_at else None,
            "network_interfaces": [],
        },
        "started_at": attempt.started_at,
        "stopped_at": attempt.stopped_at,
        "status_reason": attempt.status_reason,
    }


def container_detail(job: Job) -> dict[str, Any]:
    """The resolved container, plus the live attempt's task (STARTING/RUNNING) or the last attempt's
    result (after it ends), as AWS mirrors them."""
    container = dict(job.container or {})
    container["network_interfaces"] = []
    attempt = job.current_attempt or (job.attempts[-1] if job.attempts else None)
    if attempt is not None:
        container["task_arn"] = attempt.container.task_arn
        container["container_instance_arn"] = attempt.container.container_instance_arn
        if attempt.started_at:
            container["log_stream_name"] = attempt.container.log_stream_name
        container["exit_code"] = attempt.container.exit_code
        container["reason"] = attempt.container.reason
    return container


def ecs_properties_detail(job: Job) -> dict[str, Any]:
    """The job's task as AWS shows it: each container with the live attempt's results (or the last
    attempt's once it ended), and the task's ARNs."""
    properties = job.ecs_properties or {}
    task = dict((properties.get("task_properties") or [{}])[0])
    attempt = job.current_attempt or (job.attempts[-1] if job.attempts else None)
    results = {c.name: c for c in attempt.task_containers} if attempt is not None else {}
    rendered = []
    for container in tasks.containers(properties):
        detail = {**container, "network_interfaces": []}
        found = results.get(container.get("name") or "")
        if found is not None and attempt is not None:
            detail.update(_task_container_result(found, attempt))
        rendered.append(detail)
    task["containers"] = rendered
    if attempt is not None:
        task["task_arn"] = attempt.container.task_arn
        task["container_instance_arn"] = attempt.container.container_instance_arn
    return {**properties, "task_properties": [task]}


def _task_container_result(container: TaskContainerAttempt, attempt: Attempt) -> dict[str, Any]:
    return {
        "name": container.name,
        "exit_code": container.exit_code,
        "reason": container.reason,
        "log_stream_name": container.log_stream_name if attempt.started_at else None,
        "network_interfaces": [],
    }


def array_properties(backend: Backend, job: Job) -> dict[str, Any] | None:
    if job.is_array_parent:
        return {
            "size": job.array_size,
            "status_summary": arrays.status_summary(backend, job),
            "status_summary_last_updated_at": job.status_summary_updated_at,
        }
    if job.array_index is not None:
        return {"index": job.array_index}
    return None


def job_summary(backend: Backend, job: Job) -> dict[str, Any]:
    last = job.current_attempt or (job.attempts[-1] if job.attempts else None)
    summary: dict[str, Any] = {
        "job_arn": job.arn,
        "job_id": job.id,
        "job_name": job.name,
        "created_at": job.created_at,
        "scheduled_at": job.scheduled_at,
        "share_identifier": job.share_identifier,
        "status": job.status,
        "status_reason": job.status_reason,
        "started_at": job.started_at,
        "stopped_at": job.stopped_at,
        "job_definition": job.job_definition_arn,
    }
    if last is not None and (last.container.exit_code is not None or last.container.reason):
        summary["container"] = {"exit_code": last.container.exit_code, "reason": last.container.reason}
    if job.is_array_parent:
        summary["array_properties"] = {"size": job.array_size}
    elif job.array_index is not None:
        summary["array_properties"] = {"index": job.array_index}
    if job.is_multi_node_parent:
        summary["node_properties"] = {"num_nodes": job.num_nodes}
    elif job.node_index is not None:
        summary["node_properties"] = {
            "is_main_node": job.is_main_node,
            "num_nodes": job.num_nodes,
            "node_index": job.node_index,
        }
    if job.status in ("STARTING", "RUNNING") and job.current_attempt is not None:
        summary["capacity_usage"] = [{"capacity_unit": "VCPU", "quantity": job.current_attempt.vcpus}]
    elif (job.container is not None or tasks.runs_as_task(job)) and not job.is_finished:
        summary["capacity_usage"] = [{"capacity_unit": "VCPU", "quantity": tasks.job_requirements(job).vcpus}]
    return summary

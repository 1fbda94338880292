"""Create/Update/Delete/DescribeJobQueues. The scheduler settles CREATING/UPDATING -> VALID and removes
DELETING queues on its next tick."""

from __future__ import annotations

import copy

from batchemu import arns
from batchemu.domain import rules
from batchemu.domain.models import ComputeEnvironmentOrder, JobQueue, Spec
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service import views
from batchemu.service.operation import Request, RequestContext, Result

# Chosen: AWS's message for deleting an ENABLED job queue is UNCONFIRMED.
DELETE_ENABLED = "Cannot delete, job queue {name} is ENABLED; update its state to DISABLED first"


def find(backend: Backend, reference: str) -> JobQueue:
    queue = backend.find_job_queue(reference)
    if queue is None:
        raise ClientException(f"Job queue {reference} does not exist")
    return queue


def create_job_queue(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    name = request["job_queue_name"]
    rules.check_new_job_queue(request)
    if name in backend.job_queues:
        raise invalid_request("Object already exists")
    rules.check_quota(len(backend.job_queues), rules.MAX_JOB_QUEUES, "job queues")
    order, platforms = _resolve_order(backend, request.get("compute_environment_order") or [])
    queue_type = request.get("job_queue_type") or _queue_type(backend, order, platforms)
    rules.check_queue_type_matches(queue_type, platforms)
    actions = request.get("job_state_time_limit_actions") or []
    rules.check_job_state_time_limit_actions(actions, queue_type)
    policy_arn = request.get("scheduling_policy_arn")
    if policy_arn is not None:
        _require_policy(backend, policy_arn)
    queue = JobQueue(
        name=name,
        arn=arns.build(ctx.region, ctx.account, "job-queue", name),
        priority=request["priority"],
        compute_environment_order=order,
        state=request.get("state", "ENABLED"),
        status="CREATING",
        status_reason="Job queue is being created",
        scheduling_policy_arn=policy_arn,
        job_state_time_limit_actions=copy.deepcopy(actions),
        service_environment_order=copy.deepcopy(request.get("service_environment_order") or []),
        job_queue_type=queue_type,
        tags=dict(request.get("tags") or {}),
        status_changed_at=ctx.clock.now(),
    )
    backend.job_queues[name] = queue
    return {"job_queue_name": name, "job_queue_arn": queue.arn}


def _resolve_order(backend: Backend, entries: list[Spec]) -> tuple[list[ComputeEnvironmentOrder], list[str]]:
    """The entries with every compute environment as its ARN, and the environments' platforms."""
    rules.check_compute_environment_order(entries)
    order: list[ComputeEnvironmentOrder] = []
    platforms: list[str] = []
    for entry in entries:
        reference = entry["compute_environment"]
        environment = backend.find_compute_environment(reference)
        if environment is None or environment.status == "DELETING":
            raise ClientException(f"Compute environment {reference} does not exist")
        order.append(ComputeEnvironmentOrder(entry["order"], environment.arn))
        platforms.append(environment.platform)
    rules.check_distinct_compute_environments([entry.compute_environment_arn for entry in order])
    rules.check_single_platform(platforms)
    return order, platforms


def _queue_type(backend: Backend, order: list[ComputeEnvironmentOrder], platforms: list[str]) -> str | None:
    if not order:
        return None
    environment = backend.find_compute_environment(order[0].compute_environment_arn)
    if environment is not None and environment.eks_configuration:
        return "EKS"
    return "ECS_FARGATE" if platforms[0] == "FARGATE" else "ECS"


def _require_policy(backend: Backend, arn: str) -> None:
    if backend.find_scheduling_policy(arn) is None:
        raise ClientException(f"Scheduling policy {arn} does not exist")


def update_job_queue(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    queue = find(backend, request["job_queue"])
    if queue.status == "DELETING":
        raise ClientException(f"Job queue {queue.name} is being deleted")
    if "scheduling_policy_arn" in request:
        rules.check_scheduling_policy_change(queue.scheduling_policy_arn, request["scheduling_policy_arn"])
        _require_policy(backend, request["scheduling_policy_arn"])
    if request.get("priority") is not None:
        rules.check_priority(request["priority"])
    if request.get("compute_environment_order") is not None:
        order, platforms = _resolve_order(backend, request["compute_environment_order"])
        rules.check_queue_type_matches(queue.job_queue_type, platforms)
    else:
        order = queue.compute_environment_order
    actions = request.get("job_state_time_limit_actions")
    if actions is not None:
        rules.check_job_state_time_limit_actions(actions, queue.job_queue_type)
        queue.job_state_time_limit_actions = copy.deepcopy(actions)
    queue.compute_environment_order = order
    for key in ("state", "priority", "scheduling_policy_arn"):
        if request.get(key) is not None:
            setattr(queue, key, request[key])
    if request.get("service_environment_order") is not None:
        queue.service_environment_order = copy.deepcopy(request["service_environment_order"])
    queue.status, queue.status_reason = "UPDATING", "Job queue is being updated"
    queue.status_changed_at = ctx.clock.now()
    return {"job_queue_name": queue.name, "job_queue_arn": queue.arn}


def delete_job_queue(ctx: RequestContext, request: Request) -> Result:
    queue = find(ctx.backend, request["job_queue"])
    if queue.status == "DELETING":
        return {}
    if queue.state == "ENABLED":
        raise ClientException(DELETE_ENABLED.format(name=queue.name))
    queue.status, queue.status_reason = "DELETING", "Job queue is being deleted"
    queue.status_changed_at = ctx.clock.now()
    return {}


def describe_job_queues(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    shown, token = views.page_of_references(
        request.get("job_queues"), backend.job_queues.values(), backend.find_job_queue, request, "JobQueues"
    )
    return {"job_queues": [views.job_queue(q) for q in shown], "next_token": token}


HANDLERS = {
    "CreateJobQueue": create_job_queue,
    "UpdateJobQueue": update_job_queue,
    "DeleteJobQueue": delete_job_queue,
    "DescribeJobQueues": describe_job_queues,
}

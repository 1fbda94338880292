"""Quota shares (virtual queues inside a quota-managed SAGEMAKER_TRAINING job queue): Create, Describe,
List, Update, Delete. Records live in backend.extras["quota-share"]["<job queue name>/<share name>"];
the ARN is arn:aws:batch:<region>:<account>:job-queue/<queue>/quota-share/<share> (IAM's resource
type). CREATING/UPDATING become VALID on the next tick; a delete (of a DISABLED share) marks it DELETING
and settle() removes it and terminates its unfinished service jobs."""

from __future__ import annotations

from typing import Any

from batchemu.domain.models import JobQueue
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service.extras_common import (
    QUOTA_SHARE,
    Record,
    check_name,
    page,
    records,
    require_job_queue,
    tags_of,
)
from batchemu.service.operation import Request, RequestContext, Result
from batchemu.service.service_environments import capacity_limits
from batchemu.service.service_jobs import SAGEMAKER_TRAINING, fail_quota_share_jobs

UNLIMITED_BORROWING = -1


def quota_share_arn(backend: Backend, queue_name: str, share_name: str) -> str:
    return f"arn:aws:batch:{backend.region}:{backend.account}:job-queue/{queue_name}/quota-share/{share_name}"


def create_quota_share(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    name = request["quota_share_name"]
    check_name(name, "Quota share")
    queue = _quota_managed_queue(backend, request["job_queue"])
    shares = records(backend, QUOTA_SHARE)
    key = f"{queue.name}/{name}"
    if key in shares:
        raise ClientException(f"QuotaShare {name} already exists in job queue {queue.name}.")
    record = {
        "name": name,
        "arn": quota_share_arn(backend, queue.name, name),
        "job_queue_name": queue.name,
        "job_queue_arn": queue.arn,
        "capacity_limits": capacity_limits(request["capacity_limits"]),
        "resource_sharing_configuration": _sharing(request["resource_sharing_configuration"]),
        "preemption_configuration": dict(request["preemption_configuration"]),
        "state": request.get("state") or "ENABLED",
        "status": "CREATING",
        "tags": tags_of(request),
        "status_changed_at": ctx.now_ms,
    }
    shares[key] = record
    ctx.wake()
    return {"quota_share_name": name, "quota_share_arn": record["arn"]}


def _quota_managed_queue(backend: Backend, reference: str) -> JobQueue:
    queue = require_job_queue(backend, reference)
    if queue.status != "VALID":
        raise ClientException(
            f"JobQueue {queue.name} is {queue.status}; a job queue must be VALID before a quota share is associated"
        )
    if queue.job_queue_type != SAGEMAKER_TRAINING:
        raise invalid_request(
            f"Quota shares are only supported for {SAGEMAKER_TRAINING} job queues; {queue.name} is not one"
        )
    policy = (
        backend.find_scheduling_policy(queue.scheduling_policy_arn) if queue.scheduling_policy_arn else None
    )
    if policy is None or policy.quota_share_policy is None:
        raise invalid_request(f"Job queue {queue.name} has no quota-share scheduling policy")
    return queue


def _sharing(configuration: dict[str, Any]) -> dict[str, Any]:
    strategy = configuration["strategy"]
    limit = configuration.get("borrow_limit")
    if limit is not None and strategy != "LEND_AND_BORROW":
        raise invalid_request(
            f"borrowLimit can only be applied with the LEND_AND_BORROW strategy, not {strategy}"
        )
    if limit is not None and limit < UNLIMITED_BORROWING:
        raise invalid_request(f"borrowLimit must be -1 (unlimited) or a percentage >= 0, got {limit}")
    if strategy == "LEND_AND_BORROW" and limit is None:
        limit = UNLIMITED_BORROWING
    return {"strategy": strategy, "borrow_limit": limit}


def describe_quota_share(ctx: RequestContext, request: Request) -> Result:
    record = _require(ctx.backend, request["quota_share_arn"])
    return {**_detail(record), "tags": record["tags"] or None}


def _detail(record: Record) -> dict[str, Any]:
    return {
        "quota_share_name": record["name"],
        "quota_share_arn": record["arn"],
        "job_queue_arn": record["job_queue_arn"],
        "capacity_limits": record["capacity_limits"],
        "resource_sharing_configuration": record["resource_sharing_configuration"],
        "preemption_configuration": record["preemption_configuration"],
        "state": record["state"],
        "status": record["status"],
    }


def list_quota_shares(ctx: RequestContext, request: Request) -> Result:
    queue = require_job_queue(ctx.backend, request["job_queue"])
    found = [
        record
        for record in records(ctx.backend, QUOTA_SHARE).values()
        if record["job_queue_arn"] == queue.arn
    ]
    chunk, token = page(found, request, "ListQuotaShares")
    return {"quota_shares": [_detail(record) for record in chunk], "next_token": token}


def update_quota_share(ctx: RequestContext, request: Request) -> Result:
    record = _require(ctx.backend, request["quota_share_arn"])
    if record["status"] == "DELETING":
        raise ClientException(f"QuotaShare {record['name']} is being deleted and cannot be updated")
    changes: dict[str, Any] = {}
    if request.get("capacity_limits") is not None:
        changes["capacity_limits"] = capacity_limits(request["capacity_limits"])
    if request.get("resource_sharing_configuration") is not None:
        changes["resource_sharing_configuration"] = _sharing(request["resource_sharing_configuration"])
    if request.get("preemption_configuration") is not None:
        changes["preemption_configuration"] = dict(request["preemption_configuration"])
    if request.get("state") is not None:
        changes["state"] = request["state"]
    record.update(changes, status="UPDATING", status_changed_at=ctx.now_ms)
    ctx.wake()
    return {"quota_share_name": record["name"], "quota_share_arn": record["arn"]}


def delete_quota_share(ctx: RequestContext, request: Request) -> Result:
    record = _require(ctx.backend, request["quota_share_arn"])
    if record["status"] == "DELETING":
        return {}
    if record["state"] != "DISABLED":
        raise ClientException(f"Cannot delete, QuotaShare {record['name']} must be DISABLED first")
    record["status"], record["status_changed_at"] = "DELETING", ctx.now_ms
    ctx.wake()
    return {}


def settle(backend: Backend, now_ms: int) -> bool:
    """CREATING/UPDATING -> VALID; DELETING (or whose queue is gone) -> removed, its jobs terminated."""
    shares = records(backend, QUOTA_SHARE)
    queue_arns = {queue.arn for queue in backend.job_queues.values()}
    changed = False
    for key, record in list(shares.items()):
        if record["status"] == "DELETING" or record["job_queue_arn"] not in queue_arns:
            del shares[key]
            fail_quota_share_jobs(backend, record["job_queue_arn"], record["name"], now_ms)
            changed = True
        elif record["status"] in ("CREATING", "UPDATING"):
            record["status"], record["status_changed_at"] = "VALID", now_ms
            changed = True
    return changed


def _require(backend: Backend, arn: str) -> Record:
    prefix = f"arn:aws:batch:{backend.region}:{backend.account}:job-queue/"
    queue_name, marker, share_name = arn[len(prefix) :].partition("/quota-share/")
    record = (
        records(backend, QUOTA_SHARE).get(f"{queue_name}/{share_name}")
        if arn.startswith(prefix) and marker
        else None
    )
    if record is None:
        raise ClientException(f"QuotaShare {arn} not found.")
    return record


HANDLERS = {
    "CreateQuotaShare": create_quota_share,
    "DescribeQuotaShare": describe_quota_share,
    "ListQuotaShares": list_quota_shares,
    "UpdateQuotaShare": update_quota_share,
    "DeleteQuotaShare": delete_quota_share,
}

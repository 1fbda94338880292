"""Service jobs (SageMaker training jobs queued by Batch): SubmitServiceJob, DescribeServiceJob,
ListServiceJobs, TerminateServiceJob, UpdateServiceJob. Records live in
backend.extras["service-job"][job id].

What is emulated: the request is validated (SAGEMAKER_TRAINING queue, JSON payload, retry, priority,
share and quota-share rules, clientToken replays), stored and described in the model's shapes, with
capacityUsage read from the payload's ResourceConfig. settle() moves a job SUBMITTED -> RUNNABLE on the
next scheduler tick, and there it stays: batchemu has no SageMaker to dispatch it to, so it never reaches
SCHEDULED, has no attempts and never succeeds. TerminateServiceJob fails it at once (FAILED, the given
reason, isTerminated true); UpdateServiceJob changes its schedulingPriority until it finishes. Jobs whose
queue or quota share is deleted fail on the next tick."""

from __future__ import annotations

import json
from typing import Any

from batchemu import arns
from batchemu.domain.models import JobQueue
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, NotFound, invalid_request
from batchemu.service.bulk import bulk
from batchemu.service.extras_common import (
    CLIENT_TOKEN_TTL_MS,
    NAME_PATTERN,
    QUOTA_SHARE,
    SERVICE_JOB,
    Record,
    digest,
    epoch_ms,
    name_matches,
    page,
    records,
    require_job_queue,
    single_filter,
    tags_of,
)
from batchemu.service.operation import Request, RequestContext, Result

SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"
FINISHED = ("SUCCEEDED", "FAILED")
MAX_PRIORITY = 9999
LIST_FILTERS = ("JOB_NAME", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")
QUEUE_DELETED = "JobQueue deleted"
QUOTA_SHARE_DELETED = "QuotaShare deleted"


def submit_service_job(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    name = request["job_name"]
    if not NAME_PATTERN.match(name):
        raise invalid_request("Job name should match valid pattern")
    queue = _service_queue(backend, request["job_queue"], request["service_job_type"])
    payload = _payload(request["service_request_payload"])
    _check_numbers(request)
    _check_shares(backend, queue, request)
    _check_client_token(backend, request, ctx.now_ms)
    job_id = arns.new_id()
    record = {
        "id": job_id,
        "arn": arns.build(ctx.region, ctx.account, SERVICE_JOB, job_id),
        "name": name,
        "job_queue_arn": queue.arn,
        "service_job_type": request["service_job_type"],
        "service_request_payload": request["service_request_payload"],
        "capacity_usage": _capacity_usage(payload),
        "status": "SUBMITTED",
        "status_reason": None,
        "created_at": ctx.now_ms,
        "status_changed_at": ctx.now_ms,
        "scheduled_at": None,
        "started_at": None,
        "stopped_at": None,
        "is_terminated": False,
        "attempts": [],
        "retry_strategy": request.get("retry_strategy"),
        "scheduling_priority": request.get("scheduling_priority"),
        "share_identifier": request.get("share_identifier"),
        "quota_share_name": request.get("quota_share_name"),
        "preemption_configuration": request.get("preemption_configuration"),
        "timeout_config": request.get("timeout_config"),
        "tags": tags_of(request),
        "client_token": request.get("client_token"),
        "request_digest": digest(request),
    }
    records(backend, SERVICE_JOB)[job_id] = record
    ctx.wake()
    return {"job_arn": record["arn"], "job_name": name, "job_id": job_id}


def _service_queue(backend: Backend, reference: str, job_type: str) -> JobQueue:
    queue = require_job_queue(backend, reference)
    if queue.status == "DELETING":
        raise ClientException(f"JobQueue {reference} not found.")
    if queue.job_queue_type != SAGEMAKER_TRAINING:
        raise invalid_request(
            f"Job queue {queue.name} has type {queue.job_queue_type or 'ECS'}; "
            f"service jobs need a {SAGEMAKER_TRAINING} job queue"
        )
    if job_type != queue.job_queue_type:
        raise invalid_request(
            f"serviceJobType {job_type} does not match the job queue type {queue.job_queue_type}"
        )
    if queue.state != "ENABLED":
        raise ClientException(f"JobQueue {queue.name} is DISABLED and does not accept new jobs.")
    return queue


def _payload(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise invalid_request("serviceRequestPayload must be a JSON object")
    return payload


def _capacity_usage(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """SageMaker's ResourceConfig {InstanceType, InstanceCount} is the capacity a training job uses."""
    config = payload.get("ResourceConfig")
    if not isinstance(config, dict) or not isinstance(config.get("InstanceType"), str):
        return []
    count = config.get("InstanceCount", 1)
    quantity = float(count) if isinstance(count, int | float) and not isinstance(count, bool) else 1.0
    return [{"capacity_unit": config["InstanceType"], "quantity": quantity}]


def _check_numbers(request: Request) -> None:
    attempts = (request.get("retry_strategy") or {}).get("attempts")
    if attempts is not None and not 1 <= attempts <= 10:
        raise invalid_request(f"retryStrategy attempts must be between 1 and 10, got {attempts}")
    _check_priority(request.get("scheduling_priority"))
    seconds = (request.get("timeout_config") or {}).get("attempt_duration_seconds")
    if seconds is not None and seconds < 1:
        raise invalid_request(f"timeoutConfig attemptDurationSeconds must be at least 1, got {seconds}")
    retries = (request.get("preemption_configuration") or {}).get("preemption_retries_before_termination")
    if retries is not None and retries < 0:
        raise invalid_request(f"preemptionRetriesBeforeTermination must be at least 0, got {retries}")


def _check_priority(priority: int | None) -> None:
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        raise invalid_request(f"schedulingPriority must be between 0 and {MAX_PRIORITY}, got {priority}")


def _check_shares(backend: Backend, queue: JobQueue, request: Request) -> None:
    """shareIdentifier goes with a fair-share queue and quotaShareName with a quota-share queue; each is
    required there and refused elsewhere."""
    policy = (
        backend.find_scheduling_policy(queue.scheduling_policy_arn) if queue.scheduling_policy_arn else None
    )
    fair_share = policy is not None and policy.fairshare_policy is not None
    quota_shares = policy is not None and policy.quota_share_policy is not None
    share, quota_share = request.get("share_identifier"), request.get("quota_share_name")
    if fair_share and not share:
        raise ClientException("shareIdentifier must be specified.")
    if share and not fair_share:
        raise invalid_request(
            f"shareIdentifier can't be specified: job queue {queue.name} has no fair-share policy"
        )
    if quota_shares and not quota_share:
        raise ClientException("quotaShareName must be specified.")
    if quota_share and not quota_shares:
        raise invalid_request(
            f"quotaShareName can't be specified: job queue {queue.name} has no quota-share policy"
        )
    if quota_share:
        found = records(backend, QUOTA_SHARE).get(f"{queue.name}/{quota_share}")
        if found is None or found["status"] == "DELETING":
            raise ClientException(f"QuotaShare {quota_share} not found in job queue {queue.name}.")
        if found["state"] != "ENABLED":
            raise ClientException(f"QuotaShare {quota_share} is DISABLED and does not accept new jobs.")


def _check_client_token(backend: Backend, request: Request, now_ms: int) -> None:
    """AWS rejects a second submission with the same clientToken (valid for 8 hours)."""
    token = request.get("client_token")
    if token is None:
        return
    for job in records(backend, SERVICE_JOB).values():
        if job["client_token"] == token and job["created_at"] + CLIENT_TOKEN_TTL_MS > now_ms:
            if job["request_digest"] == digest(request):
                raise ClientException(
                    f"Service job {job['id']} was already submitted with clientToken {token}"
                )
            raise ClientException(f"clientToken {token} was already used with a different request")


def describe_service_job(ctx: RequestContext, request: Request) -> Result:
    job = _require(ctx.backend, request["job_id"])
    return {
        "attempts": job["attempts"],
        "capacity_usage": job["capacity_usage"],
        "created_at": job["created_at"],
        "is_terminated": job["is_terminated"],
        "job_arn": job["arn"],
        "job_id": job["id"],
        "job_name": job["name"],
        "job_queue": job["job_queue_arn"],
        "retry_strategy": job["retry_strategy"],
        "scheduled_at": job["scheduled_at"],
        "scheduling_priority": job["scheduling_priority"],
        "service_request_payload": job["service_request_payload"],
        "service_job_type": job["service_job_type"],
        "share_identifier": job["share_identifier"],
        "quota_share_name": job["quota_share_name"],
        "preemption_configuration": job["preemption_configuration"],
        "started_at": job["started_at"],
        "status": job["status"],
        "status_reason": job["status_reason"],
        "stopped_at": job["stopped_at"],
        "tags": job["tags"] or None,
        "timeout_config": job["timeout_config"],
    }


def list_service_jobs(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    found = list(records(backend, SERVICE_JOB).values())
    if request.get("job_queue") is not None:
        queue = require_job_queue(backend, request["job_queue"])
        found = [job for job in found if job["job_queue_arn"] == queue.arn]
    chosen = single_filter(request.get("filters"), LIST_FILTERS)
    status = request.get("job_status")
    if chosen is None:
        found = [job for job in found if job["status"] == (status or "RUNNING")]
    else:
        found = _filtered(found, *chosen)
        if status is not None and chosen[0] in ("SHARE_IDENTIFIER", "QUOTA_SHARE_NAME"):
            found = [job for job in found if job["status"] == status]
        found.sort(key=lambda job: job["created_at"], reverse=True)
    chunk, token = page(found, request, "ListServiceJobs")
    return {"job_summary_list": [_summary(job) for job in chunk], "next_token": token}


def _filtered(found: list[Record], name: str, values: list[str]) -> list[Record]:
    if name == "JOB_NAME":
        return [job for job in found if name_matches(job["name"], values)]
    if name == "BEFORE_CREATED_AT":
        before = epoch_ms(values[0], name)
        return [job for job in found if job["created_at"] < before]
    if name == "AFTER_CREATED_AT":
        after = epoch_ms(values[0], name)
        return [job for job in found if job["created_at"] > after]
    key = "share_identifier" if name == "SHARE_IDENTIFIER" else "quota_share_name"
    return [job for job in found if job[key] in values]


def _summary(job: Record) -> dict[str, Any]:
    return {
        "capacity_usage": job["capacity_usage"],
        "created_at": job["created_at"],
        "job_arn": job["arn"],
        "job_id": job["id"],
        "job_name": job["name"],
        "scheduled_at": job["scheduled_at"],
        "service_job_type": job["service_job_type"],
        "share_identifier": job["share_identifier"],
        "quota_share_name": job["quota_share_name"],
        "status": job["status"],
        "status_reason": job["status_reason"],
        "started_at": job["started_at"],
        "stopped_at": job["stopped_at"],
    }


def terminate_service_job(ctx: RequestContext, request: Request) -> Result:
    job = _require(ctx.backend, request["job_id"])
    if job["status"] not in FINISHED:
        fail(job, request["reason"], ctx.now_ms, terminated=True)
        ctx.wake()
    return {}


def update_service_job(ctx: RequestContext, request: Request) -> Result:
    job = _require(ctx.backend, request["job_id"])
    _check_priority(request["scheduling_priority"])
    if job["status"] in FINISHED:
        raise ClientException(f"Service job {job['id']} is {job['status']} and can no longer be updated")
    job["scheduling_priority"] = request["scheduling_priority"]
    return {"job_arn": job["arn"], "job_name": job["name"], "job_id": job["id"]}


def fail(job: Record, reason: str, now_ms: int, terminated: bool) -> None:
    job["status"], job["status_reason"] = "FAILED", reason
    job["stopped_at"] = job["status_changed_at"] = now_ms
    job["is_terminated"] = terminated


def settle(backend: Backend, now_ms: int) -> bool:
    """SUBMITTED -> RUNNABLE; jobs of a deleted queue fail. True when anything changed."""
    changed = False
    queue_arns = {queue.arn for queue in backend.job_queues.values() if queue.status != "DELETING"}
    for job in records(backend, SERVICE_JOB).values():
        if job["status"] in FINISHED:
            continue
        if job["job_queue_arn"] not in queue_arns:
            fail(job, QUEUE_DELETED, now_ms, terminated=True)
            changed = True
        elif job["status"] == "SUBMITTED":
            job["status"], job["status_changed_at"] = "RUNNABLE", now_ms
            changed = True
    return changed


def fail_quota_share_jobs(backend: Backend, job_queue_arn: str, quota_share_name: str, now_ms: int) -> None:
    """A deleted quota share's unfinished jobs are terminated."""
    for job in records(backend, SERVICE_JOB).values():
        in_share = job["job_queue_arn"] == job_queue_arn and job["quota_share_name"] == quota_share_name
        if in_share and job["status"] not in FINISHED:
            fail(job, QUOTA_SHARE_DELETED, now_ms, terminated=True)


def _require(backend: Backend, job_id: str) -> Record:
    job = records(backend, SERVICE_JOB).get(job_id)
    if job is None:
        raise NotFound(f"Service job {job_id} not found.")
    return job


HANDLERS = {
    "SubmitServiceJob": submit_service_job,
    "DescribeServiceJob": describe_service_job,
    "ListServiceJobs": list_service_jobs,
    "TerminateServiceJob": terminate_service_job,
    "TerminateServiceJobs": bulk(terminate_service_job),
    "UpdateServiceJob": update_service_job,
}

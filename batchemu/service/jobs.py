"""Job operations: SubmitJob, DescribeJobs, ListJobs, CancelJob, TerminateJob, GetJobQueueSnapshot."""

from __future__ import annotations

import heapq

from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent, JobStatus
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.scheduler import fairshare, placement
from batchemu.service import job_listing
from batchemu.service.bulk import bulk
from batchemu.service.job_submission import submit_job
from batchemu.service.job_views import job_detail
from batchemu.service.operation import Request, RequestContext, Result

MAX_DESCRIBE_JOBS = 100
_QUEUED = {JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE}


def describe_jobs(ctx: RequestContext, request: Request) -> Result:
    ids = request["jobs"]
    if len(ids) > MAX_DESCRIBE_JOBS:
        raise invalid_request(f"Maximum number of jobs supported is  {MAX_DESCRIBE_JOBS} .")
    backend = ctx.backend
    found = (backend.jobs.get(job_id) for job_id in ids)
    return {"jobs": [job_detail(backend, job) for job in found if job is not None]}


def cancel_job(ctx: RequestContext, request: Request) -> Result:
    _stop_job(ctx, request["job_id"], request["reason"], JobEvent.CANCELLED)
    return {}


def terminate_job(ctx: RequestContext, request: Request) -> Result:
    _stop_job(ctx, request["job_id"], request["reason"], JobEvent.TERMINATED)
    return {}


def _stop_job(ctx: RequestContext, job_id: str, reason: str, event: JobEvent) -> None:
    """Empty strings are refused (AWS answers ClientException: getmoto/moto#5394). Queued jobs fail now, except that CancelJob fails a PENDING job only once its dependencies have
    completed (API reference, CancelJob); TerminateJob asks the runner to stop live ones (the scheduler
    records the end); CancelJob leaves STARTING/RUNNING jobs alone; finished jobs are left as they are
    (UNCONFIRMED in AWS; we answer 200 and change nothing). An unknown job id is not an error: AWS
    answers 200 with an empty body (aws/aws-cli#2551)."""
    for field, value in (("jobId", job_id), ("reason", reason)):
        if value == "":
            raise ClientException(f"'{field}' is a required field (cannot be an empty string)")
    backend = ctx.backend
    job = backend.jobs.get(job_id)
    if job is None:
        return
    if job.child_ids:  # array children or multi-node nodes
        for child_id in job.child_ids:
            child = backend.jobs.get(child_id)
            if child is not None:
                _stop_one(backend, child, reason, event, ctx.now_ms)
        if job.is_multi_node_parent:
            ctx.wake()  # the parent follows its main node
            return
        if job.status == JobStatus.PENDING:
            job.pending_stop_reason = reason  # the parent fails once its children have finished
            backend.touch(job)
            ctx.wake()
            return
    _stop_one(backend, job, reason, event, ctx.now_ms)
    ctx.wake()


def _stop_one(backend: Backend, job: Job, reason: str, event: JobEvent, now: int) -> None:
    if job.status == JobStatus.PENDING and event is JobEvent.CANCELLED:
        job.pending_stop_reason = reason  # scheduler/dependencies.py cancels it when its dependencies end
        backend.touch(job)
    elif job.status in _QUEUED:
        backend.move(job, event, now, reason=reason)
    elif job.status in (JobStatus.STARTING, JobStatus.RUNNING) and event is JobEvent.TERMINATED:
        job.pending_stop_reason = reason
        backend.touch(job)


def get_job_queue_snapshot(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    queue = backend.find_job_queue(request["job_queue"])
    if queue is None:
        raise ClientException(f"JobQueue {request['job_queue']} not found.")
    runnable = _runnable_of(backend, queue.arn)
    policy = (
        backend.find_scheduling_policy(queue.scheduling_policy_arn) if queue.scheduling_policy_arn else None
    )
    if policy is not None and policy.fairshare_policy is not None:
        runnable = fairshare.dispatch_order(backend, policy.fairshare_policy, queue.arn, runnable)
    else:
        runnable = heapq.nsmallest(100, runnable, key=placement.fifo_key)
    front = [
        {"job_arn": job.arn, "earliest_time_at_position": job.status_changed_at} for job in runnable[:100]
    ]
    return {"front_of_queue": {"jobs": front, "last_updated_at": ctx.now_ms}}


def _runnable_of(backend: Backend, queue_arn: str) -> list[Job]:
    """The queue's RUNNABLE jobs (multi-node parents, which are never placed themselves, left out)."""
    if not backend.work.stale:
        lanes = backend.work.lanes_of(queue_arn)
        return list(lanes.members.values()) if lanes is not None else []
    return [
        job
        for job in backend.jobs_by_status["RUNNABLE"].values()
        if job.job_queue_arn == queue_arn and not job.is_multi_node_parent
    ]


HANDLERS = {
    "SubmitJob": submit_job,
    "DescribeJobs": describe_jobs,
    "ListJobs": job_listing.list_jobs,
    "CancelJob": cancel_job,
    "CancelJobs": bulk(cancel_job),
    "TerminateJob": terminate_job,
    "TerminateJobs": bulk(terminate_job),
    "GetJobQueueSnapshot": get_job_queue_snapshot,
}

"""Compute environments and job queues settle: CREATING/UPDATING -> VALID, DELETING -> gone."""

from __future__ import annotations

from batchemu.clock import to_millis
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend

CE_HEALTHY = "ComputeEnvironment Healthy"
JQ_HEALTHY = "JobQueue Healthy"
JOB_QUEUE_DELETED = "JobQueue deleted"


def settle(backend: Backend, now: float) -> bool:
    changed = False
    for name, environment in list(backend.compute_environments.items()):
        if environment.status in ("CREATING", "UPDATING"):
            environment.status, environment.status_reason = "VALID", CE_HEALTHY
            environment.status_changed_at = now
            changed = True
        elif environment.status == "DELETING":
            del backend.compute_environments[name]
            changed = True
    for name, queue in list(backend.job_queues.items()):
        if queue.status in ("CREATING", "UPDATING"):
            queue.status, queue.status_reason = "VALID", JQ_HEALTHY
            queue.status_changed_at = now
            changed = True
        elif queue.status == "DELETING":
            _end_jobs_of(backend, queue.arn, to_millis(now))
            del backend.job_queues[name]
            changed = True
    return changed


def _end_jobs_of(backend: Backend, queue_arn: str, now: int) -> None:
    """Jobs still in a deleted queue are cancelled, or terminated when already running."""
    for job in list(backend.jobs.values()):
        if job.job_queue_arn != queue_arn or job.is_finished:
            continue
        if job.status in ("SUBMITTED", "PENDING", "RUNNABLE"):
            backend.move(job, JobEvent.CANCELLED, now, reason=JOB_QUEUE_DELETED)
        elif job.pending_stop_reason is None:
            job.pending_stop_reason = JOB_QUEUE_DELETED
            backend.touch(job)

"""jobStateTimeLimitActions: a job at the head of its queue that has stayed RUNNABLE with a matching
blocked reason for maxTimeSeconds is cancelled with `Canceled by JobStateTimeLimit action due to
reason: <reason>`."""

from __future__ import annotations

from batchemu.domain.models import Job, JobQueue
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend

CANCELED_BY_TIME_LIMIT = "Canceled by JobStateTimeLimit action due to reason: {reason}"


def apply(backend: Backend, now: int) -> bool:
    changed = False
    blocked: dict[str, list[Job]] = {}
    for job in backend.jobs_by_status["RUNNABLE"].values():
        if job.status_reason:
            blocked.setdefault(job.job_queue_arn, []).append(job)
    for queue_arn, jobs in blocked.items():
        queue = _queue(backend, queue_arn)
        if queue is None or not queue.job_state_time_limit_actions:
            continue
        for job in list(jobs):
            action = _due_action(queue, job, now)
            if action is not None:
                reason = CANCELED_BY_TIME_LIMIT.format(reason=action["reason"])
                backend.move(job, JobEvent.CANCELLED, now, reason=reason)
                changed = True
    return changed


def _queue(backend: Backend, arn: str) -> JobQueue | None:
    return backend.find_job_queue(arn)


def _due_action(queue: JobQueue, job: Job, now: int) -> dict | None:
    for action in queue.job_state_time_limit_actions:
        if action.get("state", "RUNNABLE") != "RUNNABLE" or action.get("action", "CANCEL") != "CANCEL":
            continue
        reason = action.get("reason", "")
        if (job.status_reason or "").startswith(reason) and now - job.reason_changed_at >= action[
            "max_time_seconds"
        ] * 1000:
            return action
    return None

"""jobStateTimeLimitActions: a job at the head of its queue that has stayed RUNNABLE with a matching
blocked reason for maxTimeSeconds is cancelled with `Canceled by JobStateTimeLimit action due to
reason: <reason>`."""

from __future__ import annotations

from batchemu.domain.models import Job, JobQueue
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend

CANCELED_BY_TIME_LIMIT = "Canceled by JobStateTimeLimit action due to reason: {reason}"


def apply(backend: Backend, now: int) -> bool:
    """Fires the timers that are due. A job gets a timer when it is blocked with a reason (set on
    backend.work by move); the timers are set again from scratch when a queue's actions change."""
    work = backend.work
    fingerprint = tuple(
        (queue.arn, repr(queue.job_state_time_limit_actions))
        for queue in backend.job_queues.values()
        if queue.job_state_time_limit_actions
    )
    if fingerprint != work.timer_fingerprint:
        work.timer_fingerprint = fingerprint
        work.timers.clear()
        work.newly_blocked = list(work.blocked.values())
    for job in work.newly_blocked:
        _set_timer(backend, job)
    work.newly_blocked.clear()
    changed = False
    for entry in list(work.due_timers(now)):
        job = entry.job
        if job.status != "RUNNABLE" or job.reason_changed_at != entry.reason_changed_at:
            continue
        queue = _queue(backend, job.job_queue_arn)
        action = _due_action(queue, job, now) if queue is not None else None
        if action is not None:
            reason = CANCELED_BY_TIME_LIMIT.format(reason=action["reason"])
            backend.move(job, JobEvent.CANCELLED, now, reason=reason)
            changed = True
    return changed


def _set_timer(backend: Backend, job: Job) -> None:
    if job.status != "RUNNABLE" or not job.status_reason:
        return
    queue = _queue(backend, job.job_queue_arn)
    if queue is None:
        return
    due = [
        job.reason_changed_at + int(action["max_time_seconds"] * 1000)
        for action in _actions(queue)
        if (job.status_reason or "").startswith(action.get("reason", ""))
    ]
    if due:
        backend.work.push_timer(job, min(due))


def _queue(backend: Backend, arn: str) -> JobQueue | None:
    return backend.find_job_queue(arn)


def _actions(queue: JobQueue) -> list[dict]:
    return [
        action
        for action in queue.job_state_time_limit_actions
        if action.get("state", "RUNNABLE") == "RUNNABLE" and action.get("action", "CANCEL") == "CANCEL"
    ]


def _due_action(queue: JobQueue, job: Job, now: int) -> dict | None:
    for action in _actions(queue):
        reason = action.get("reason", "")
        if (job.status_reason or "").startswith(reason) and now - job.reason_changed_at >= action[
            "max_time_seconds"
        ] * 1000:
            return action
    return None

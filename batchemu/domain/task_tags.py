"""The tags a job's ECS task carries: with propagateTags, the job definition's and the job's (the job's win
on a clash), else none; AWS fails a job whose combined tags are more than 50."""

from __future__ import annotations

from batchemu.domain.models import Job, JobDefinition

MAX_TASK_TAGS = 50
# AWS documents the failure, not its statusReason: this text is batchemu's (docs/compatibility.md).
TOO_MANY_TAGS = "Tags to propagate to the task number {count}, more than the {limit} a task can have"


def task_tags(job: Job, definition: JobDefinition | None) -> dict[str, str]:
    if not job.propagate_tags:
        return {}
    return {**(definition.tags if definition is not None else {}), **job.tags}


def too_many_tags(job: Job, definition: JobDefinition | None) -> str | None:
    """Why the job fails before its task starts, when its propagated tags are too many; else None."""
    count = len(task_tags(job, definition))
    return TOO_MANY_TAGS.format(count=count, limit=MAX_TASK_TAGS) if count > MAX_TASK_TAGS else None

"""Array jobs: the parent spawns `<parent>:<index>` children and takes its status from them."""

from __future__ import annotations

import copy
from collections.abc import Callable

from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent, JobStatus
from batchemu.domain.store import Backend

ARRAY_CHILD_FAILED = "Array Child Job failed"


def spawn_children(backend: Backend, parent: Job, now: int, move: Callable[..., None]) -> None:
    """Children start life in PENDING; they inherit the parent's dependencies (N_TO_N per index)."""
    size = parent.array_size or 0
    for index in range(size):
        child = copy.copy(parent)
        child.id = f"{parent.id}:{index}"
        child.arn = f"{parent.arn}:{index}"
        child.created_at = now
        child.status = JobStatus.PENDING.value
        child.status_changed_at = now
        child.array_index = index
        child.parent_id = parent.id
        child.child_ids = []
        child.attempts = []
        child.depends_on = list(parent.depends_on)
        child.tags = dict(parent.tags)
        backend.add_job(child)
        parent.child_ids.append(child.id)
    parent.status_summary_updated_at = now
    move(parent, JobEvent.WAIT_FOR_DEPENDENCIES, now)


def status_summary(backend: Backend, parent: Job) -> dict[str, int]:
    summary = {status.value: 0 for status in JobStatus}
    for child_id in parent.child_ids:
        child = backend.jobs.get(child_id)
        if child is not None:
            summary[child.status] += 1
    return summary


def advance_parents(backend: Backend, now: int, move: Callable[..., None]) -> bool:
    changed = False
    for parent in list(backend.jobs_by_status["PENDING"].values()):
        if not parent.is_array_parent or not parent.child_ids:
            continue
        summary = status_summary(backend, parent)
        if summary["SUCCEEDED"] + summary["FAILED"] < len(parent.child_ids):
            continue
        if summary["FAILED"]:
            move(parent, JobEvent.CHILD_FAILED, now, reason=ARRAY_CHILD_FAILED)
        else:
            move(parent, JobEvent.CHILDREN_SUCCEEDED, now, reason=None)
        parent.status_summary_updated_at = now
        changed = True
    return changed

"""Array-job bookkeeping shared by the scheduler and the views: the parent's per-status child counts."""

from __future__ import annotations

from batchemu.domain.models import Job
from batchemu.domain.states import JobStatus
from batchemu.domain.store import Backend


def status_summary(backend: Backend, parent: Job) -> dict[str, int]:
    """All seven statuses, zero counts included, as AWS shows them."""
    summary = {status.value: 0 for status in JobStatus}
    for child_id in parent.child_ids:
        child = backend.jobs.get(child_id)
        if child is not None:
            summary[child.status] += 1
    return summary

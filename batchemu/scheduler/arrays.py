"""Array jobs: the parent spawns `<parent>:<index>` children and takes its status from them."""

from __future__ import annotations

from collections.abc import Callable

from batchemu.domain import arrays
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend

ARRAY_CHILD_FAILED = "Array Child Job failed"


def spawn_children(backend: Backend, parent: Job, now: int, move: Callable[..., None]) -> None:
    """Children start life in PENDING; they inherit the parent's dependencies (N_TO_N per index)."""
    size = parent.array_size or 0
    for index in range(size):
        child = arrays.new_child(parent, f":{index}", now)
        child.array_index = index
        child.depends_on = list(parent.depends_on)
        backend.add_job(child)
        parent.child_ids.append(child.id)
    parent.status_summary_updated_at = now
    move(parent, JobEvent.WAIT_FOR_DEPENDENCIES, now)


def advance_parents(backend: Backend, now: int, move: Callable[..., None]) -> bool:
    """Parents whose last child just ended (backend.work counts children per status as they move)."""
    changed = False
    for parent_id in backend.work.drain_parents():
        parent = backend.jobs.get(parent_id)
        if parent is None or parent.status != "PENDING" or not parent.is_array_parent:
            continue
        summary = arrays.status_summary(backend, parent)
        if summary["SUCCEEDED"] + summary["FAILED"] < len(parent.child_ids):
            continue
        if parent.pending_stop_reason is not None:  # CancelJob / TerminateJob on the parent
            move(parent, JobEvent.CANCELLED, now, reason=parent.pending_stop_reason)
        elif summary["FAILED"]:
            move(parent, JobEvent.CHILD_FAILED, now, reason=ARRAY_CHILD_FAILED)
        else:
            move(parent, JobEvent.CHILDREN_SUCCEEDED, now, reason=None)
        parent.status_summary_updated_at = now
        changed = True
    return changed

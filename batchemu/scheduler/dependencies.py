"""dependsOn: a job waits in PENDING until every dependency SUCCEEDED, and fails when one FAILED."""

from __future__ import annotations

from collections.abc import Callable

from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend
from batchemu.scheduler import multinode

DEPENDENT_JOB_FAILED = "Dependent Job failed"


def dependency_ids(backend: Backend, job: Job) -> list[str]:
    """The job ids `job` waits for, with array N_TO_N and SEQUENTIAL resolved for children."""
    ids: list[str] = []
    for dependency in job.depends_on:
        if dependency.job_id is None:  # SEQUENTIAL: each child waits for the one before it
            if dependency.type == "SEQUENTIAL" and job.array_index:
                ids.append(f"{job.parent_id}:{job.array_index - 1}")
        elif dependency.type == "N_TO_N" and job.array_index is not None:
            ids.append(f"{dependency.job_id}:{job.array_index}")
        else:  # untyped, or a type that means nothing here (SEQUENTIAL with a jobId): a plain dependency
            ids.append(dependency.job_id)
    return ids


def unmet(backend: Backend, job: Job) -> bool:
    return state(backend, job) != "met"


def state(backend: Backend, job: Job) -> str:
    """'met', 'waiting' or 'failed'. A dependency that has expired from the store counts as met."""
    waiting = False
    for job_id in dependency_ids(backend, job):
        other = backend.jobs.get(job_id)
        if other is None or other.status == "SUCCEEDED":
            continue
        if other.status == "FAILED":
            return "failed"
        waiting = True
    return "waiting" if waiting else "met"


def advance_pending(backend: Backend, now: int, move: Callable[..., None]) -> bool:
    changed = False
    for job in list(backend.jobs_by_status["PENDING"].values()):
        if job.is_array_parent:
            continue
        if job.node_index is not None and not multinode.node_may_start(backend, job):
            continue
        verdict = state(backend, job)
        if verdict == "met" and job.pending_stop_reason is not None:  # CancelJob while it waited
            move(job, JobEvent.CANCELLED, now, reason=job.pending_stop_reason)
            changed = True
            continue
        if verdict == "met" and job.is_multi_node_parent:
            multinode.spawn_nodes(backend, job, now)
        if verdict == "met":
            move(job, JobEvent.READY, now)
            changed = True
        elif verdict == "failed":
            move(job, JobEvent.DEPENDENCY_FAILED, now, reason=DEPENDENT_JOB_FAILED)
            changed = True
    return changed

"""dependsOn: a job waits in PENDING until every dependency SUCCEEDED, and fails when one FAILED."""

from __future__ import annotations

from collections.abc import Callable

from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend
from batchemu.scheduler import multinode

DEPENDENT_JOB_FAILED = "Dependent Job failed"
# PENDING jobs evaluated per tick at most: the rest on the next ticks, the store lock let go between.
PER_TICK = 2000
_READY = JobEvent.READY  # read once: an enum member costs a metaclass lookup at each read


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
    return _verdict(backend, job)[0]


def _verdict(backend: Backend, job: Job) -> tuple[str, list[str]]:
    """The state, and the ids still waited for."""
    waiting: list[str] = []
    for job_id in dependency_ids(backend, job):
        other = backend.jobs.get(job_id)
        if other is None or other.status == "SUCCEEDED":
            continue
        if other.status == "FAILED":
            return "failed", []
        waiting.append(job_id)
    return ("waiting" if waiting else "met"), waiting


def advance_pending(backend: Backend, now: int, move: Callable[..., None]) -> bool:
    """PENDING jobs that are new or one of whose dependencies moved (backend.work); the others keep
    waiting without being looked at."""
    work = backend.work
    changed = len(work.pending_check) > PER_TICK  # more left for the next tick
    for job_id in work.drain_pending(PER_TICK):
        job = backend.jobs.get(job_id)
        if job is None or job.status != "PENDING" or job.is_array_parent:
            continue
        if job.node_index is not None and not multinode.node_may_start(backend, job):
            work.waits_on(job, [f"{job.parent_id}#{job.main_node}"])
            continue
        verdict, waiting = _verdict(backend, job)
        if verdict == "met" and job.pending_stop_reason is not None:  # CancelJob while it waited
            move(job, JobEvent.CANCELLED, now, reason=job.pending_stop_reason)
            changed = True
            continue
        if verdict == "met" and job.is_multi_node_parent:
            multinode.spawn_nodes(backend, job, now)
        if verdict == "met":
            move(job, _READY, now)
            changed = True
        elif verdict == "failed":
            move(job, JobEvent.DEPENDENCY_FAILED, now, reason=DEPENDENT_JOB_FAILED)
            changed = True
        else:
            work.waits_on(job, waiting)
    return changed

"""What the dashboard shows, read from the store under its lock and returned as plain JSON-ready dicts
(the dashboard's own wire format, camelCase like the admin API). Imports domain, scheduler and integrations."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batchemu.domain import tasks
from batchemu.domain.indexes import SequenceIndex
from batchemu.domain.models import Attempt, ComputeEnvironment, Job, JobQueue
from batchemu.domain.states import JobStatus
from batchemu.domain.store import Backend, Store
from batchemu.integrations.cloudwatch_logs import log_target
from batchemu.scheduler.capacity import CapacityLedger
from batchemu.scheduler.lifecycle import ledger_of

STATUSES = [status.value for status in JobStatus]
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CHILDREN_SHOWN = 100


@dataclass(frozen=True)
class LogTarget:
    """Where one attempt's output lives in CloudWatch Logs."""

    account: str
    region: str
    group: str
    stream: str
    attempt: int


def summary(store: Store, now_ms: int, limit: int, offset: int, status: str | None) -> dict[str, Any]:
    """Compute environments with capacity in use, queues with counts by status, and one page of jobs
    (newest first; array children and nodes are reached from their parent's page)."""
    with store.lock:
        backends = store.backends()
        environments = [
            compute_environment(b, ce, ledger_of(b))
            for b in backends
            for ce in _sorted(b.compute_environments)
        ]
        queues = [job_queue(b, q, counts) for b in backends for q, counts in _queue_counts(b)]
        # From the per-queue submission indexes (top-level jobs only), never a walk of every job: a page
        # costs what it shows, also with 10^5 array children stored.
        totals = {name: 0 for name in STATUSES}
        for backend in backends:
            for (_, job_status), index in backend.queue_index.by_queue_status.items():
                totals[job_status] += len(index)
        newest = heapq.merge(
            *(_entries(backend, index) for backend in backends for index in _indexes(backend, status)),
            key=lambda pair: (pair[1].created_at, pair[1].sequence),
            reverse=True,
        )
        page = [job_row(b, job) for b, job in itertools.islice(newest, offset, offset + limit)]
        total = sum(totals.values()) if status is None else totals.get(status, 0)
        return {
            "now": now_ms,
            "computeEnvironments": environments,
            "jobQueues": queues,
            "jobs": page,
            "totals": totals,
            "page": {"offset": offset, "limit": limit, "total": total, "status": status},
        }


def _entries(backend: Backend, index: SequenceIndex) -> Iterator[tuple[Backend, Job]]:
    for job in index.newest_first():
        yield backend, job


def _indexes(backend: Backend, status: str | None) -> list[SequenceIndex]:
    """Each queue's index of its top-level jobs (of one status, or all), deleted queues' included."""
    index = backend.queue_index
    if status is None:
        return list(index.by_queue.values())
    return [found for (_, job_status), found in index.by_queue_status.items() if job_status == status]


def _sorted(resources: dict[str, Any]) -> list[Any]:
    return [resources[name] for name in sorted(resources)]


def compute_environment(
    backend: Backend, environment: ComputeEnvironment, ledger: CapacityLedger
) -> dict[str, Any]:
    used = ledger.usage(environment.arn)
    return {
        "name": environment.name,
        "arn": environment.arn,
        "account": backend.account,
        "region": backend.region,
        "type": environment.type,
        "platform": environment.platform,
        "state": environment.state,
        "status": environment.status,
        "vcpusUsed": used.vcpus,
        "memoryMiBUsed": used.memory_mib,
        "maxvCpus": environment.max_vcpus,
    }


def _queue_counts(backend: Backend) -> list[tuple[JobQueue, dict[str, int]]]:
    by_arn = {queue.arn: {name: 0 for name in STATUSES} for queue in backend.job_queues.values()}
    for status, jobs in backend.jobs_by_status.items():
        for job in jobs.values():
            counts = by_arn.get(job.job_queue_arn)
            if counts is not None and not (job.is_array_parent or job.is_multi_node_parent):
                counts[status] += 1
    return [(queue, by_arn[queue.arn]) for queue in _sorted(backend.job_queues)]


def job_queue(backend: Backend, queue: JobQueue, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": queue.name,
        "arn": queue.arn,
        "account": backend.account,
        "region": backend.region,
        "state": queue.state,
        "status": queue.status,
        "priority": queue.priority,
        "computeEnvironments": [
            o.compute_environment_arn.rsplit("/", 1)[-1] for o in queue.compute_environment_order
        ],
        "counts": counts,
    }


def job_row(backend: Backend, job: Job) -> dict[str, Any]:
    return {
        "jobId": job.id,
        "jobName": job.name,
        "jobQueue": job.job_queue_arn.rsplit("/", 1)[-1],
        "account": backend.account,
        "region": backend.region,
        "status": job.status,
        "statusReason": job.status_reason,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "stoppedAt": job.stopped_at,
        "arraySize": job.array_size if job.is_array_parent else None,
        "numNodes": job.num_nodes if job.is_multi_node_parent else None,
    }


def find_job(store: Store, job_id: str) -> tuple[dict[str, Any], list[LogTarget]] | None:
    """One job as its page shows it, and where its attempts' logs live; None when no backend has it."""
    with store.lock:
        for backend in store.backends():
            job = backend.jobs.get(job_id)
            if job is not None:
                return job_detail(backend, job), log_targets(backend, job)
    return None


def job_detail(backend: Backend, job: Job) -> dict[str, Any]:
    container = job.container or {}
    need = tasks.job_requirements(job) if job.container is not None or job.ecs_properties else None
    attempts = [*job.attempts, *([job.current_attempt] if job.current_attempt else [])]
    children = [backend.jobs[i] for i in job.child_ids[:MAX_CHILDREN_SHOWN] if i in backend.jobs]
    return {
        **job_row(backend, job),
        "jobArn": job.arn,
        "jobQueueArn": job.job_queue_arn,
        "jobDefinition": job.job_definition_arn,
        "isFinished": job.is_finished,
        "parameters": dict(job.parameters),
        "environment": [
            {"name": str(e.get("name", "")), "value": str(e.get("value", ""))}
            for e in container.get("environment", [])
        ],
        "image": container.get("image"),
        "command": list(container.get("command", [])),
        "vcpus": need.vcpus if need else None,
        "memoryMiB": need.memory_mib if need else None,
        "attempts": [attempt_view(backend, a, a is job.current_attempt) for a in attempts],
        "history": [
            {"at": at, "status": status, "statusReason": reason} for at, status, reason in job.history
        ],
        "dependsOn": [{"jobId": d.job_id, "type": d.type} for d in job.depends_on],
        "parentId": job.parent_id,
        "arrayIndex": job.array_index,
        "nodeIndex": job.node_index,
        "children": [{"jobId": c.id, "status": c.status} for c in children],
        "childCount": len(job.child_ids),
        "tags": dict(job.tags),
    }


def attempt_view(backend: Backend, attempt: Attempt, live: bool) -> dict[str, Any]:
    environment = attempt.compute_environment_arn.rsplit("/", 1)[-1]
    return {
        "number": attempt.number,
        "live": live,
        "computeEnvironment": environment,
        "startedAt": attempt.started_at,
        "stoppedAt": attempt.stopped_at,
        "exitCode": attempt.container.exit_code,
        "reason": attempt.container.reason,
        "statusReason": attempt.status_reason,
        "logStreamName": attempt.container.log_stream_name if attempt.started_at else None,
        "vcpus": attempt.vcpus,
    }


def log_targets(backend: Backend, job: Job) -> list[LogTarget]:
    """Every attempt that started has a log stream; a job that never ran has none."""
    group = log_target(job.container)
    attempts = [*job.attempts, *([job.current_attempt] if job.current_attempt else [])]
    return [
        LogTarget(backend.account, backend.region, group, a.container.log_stream_name, a.number)
        for a in attempts
        if a.started_at and a.container.log_stream_name
    ]

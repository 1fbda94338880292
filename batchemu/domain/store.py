"""All state, one Backend per account and region, indexed for the scheduler (jobs by status, definitions
by name). One re-entrant lock guards every backend: requests and the scheduler take it briefly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.domain import rules
from batchemu.domain.indexes import QueueIndex
from batchemu.domain.models import (
    ComputeEnvironment,
    Job,
    JobDefinition,
    JobQueue,
    SchedulingPolicy,
)
from batchemu.domain.states import JobEvent, JobStatus, transition
from batchemu.domain.work import SchedulerWork

# Told of every job status change: (backend, job, old status). Events, persistence and logs listen here.
TransitionListener = Callable[["Backend", Job, str], None]


@dataclass
class Backend:
    account: str
    region: str
    compute_environments: dict[str, ComputeEnvironment] = field(default_factory=dict)  # by name
    job_queues: dict[str, JobQueue] = field(default_factory=dict)  # by name
    job_definitions: dict[str, list[JobDefinition]] = field(default_factory=dict)  # name -> revisions
    scheduling_policies: dict[str, SchedulingPolicy] = field(default_factory=dict)  # by name
    jobs: dict[str, Job] = field(default_factory=dict)  # by id, children included
    # status -> {job id: job}, insertion-ordered, so each status lists its jobs in submission order
    jobs_by_status: dict[str, dict[str, Job]] = field(
        default_factory=lambda: {status.value: {} for status in JobStatus}
    )
    # Newer operation families keep plain records: kind -> name -> record
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: list[TransitionListener] = field(default_factory=list)
    job_sequence: int = 0
    queue_index: QueueIndex = field(default_factory=QueueIndex)
    # job definition ARN -> the container its jobs run when they change nothing (shared by those jobs)
    resolved_containers: dict[str, Any] = field(default_factory=dict)
    # Ids of jobs added or changed since the state directory last saved them; None when nothing saves.
    changed_jobs: set[str] | None = None
    # What the scheduler must look at next (queue heads, dependents, timers), kept current by move/index.
    work: SchedulerWork = field(default_factory=SchedulerWork)

    def touch(self, job: Job) -> None:
        """Marks a job changed outside a transition (tags, a pending terminate) for saving."""
        if self.changed_jobs is not None:
            self.changed_jobs.add(job.id)
        self.work.touched(job)

    def move(self, job: Job, event: JobEvent, now: int, **details: Any) -> None:
        """transition() plus what must follow every status change: the index, then the listeners."""
        old = job.status
        transition(job, event, now, **details)
        self.reindex(job, old)
        if self.changed_jobs is not None:
            self.changed_jobs.add(job.id)
        # (no work.touched: a job that is RUNNING now got there in this move, and reindex saw to it)
        for listener in self.listeners:
            listener(self, job, old)

    def add_job(self, job: Job) -> None:
        self.job_sequence += 1
        job.sequence = self.job_sequence
        self.index(job)
        self.touch(job)

    def index(self, job: Job) -> None:
        """Files a job (new, or loaded from the state directory) in every index."""
        self.jobs[job.id] = job
        self.jobs_by_status[job.status][job.id] = job
        self.queue_index.add(job)
        self.work.added(job)

    def reindex(self, job: Job, old_status: str) -> None:
        """Call after transition() so the status index follows job.status."""
        if old_status != job.status:
            self.jobs_by_status[old_status].pop(job.id, None)
            self.jobs_by_status[job.status][job.id] = job
            if job.array_index is None and job.node_index is None:  # QueueIndex.is_entry, without a call
                self.queue_index.moved(job, old_status)
        self.work.moved(job, old_status)

    def find_compute_environment(self, name_or_arn: str) -> ComputeEnvironment | None:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        found = self.compute_environments.get(name)
        if found and name_or_arn.startswith("arn:") and found.arn != name_or_arn:
            return None
        return found

    def find_job_queue(self, name_or_arn: str) -> JobQueue | None:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        found = self.job_queues.get(name)
        if found and name_or_arn.startswith("arn:") and found.arn != name_or_arn:
            return None
        return found

    def find_scheduling_policy(self, arn: str) -> SchedulingPolicy | None:
        found = self.scheduling_policies.get(arn.rsplit("/", 1)[-1])
        return found if found and found.arn == arn else None

    def latest_active_job_definition(self, name: str) -> JobDefinition | None:
        for definition in reversed(self.job_definitions.get(name, [])):
            if definition.status == "ACTIVE":
                return definition
        return None

    def find_job_definition(self, reference: str) -> JobDefinition | None:
        """A bare name (its latest ACTIVE revision), `name:revision`, or an ARN with or without a
        revision; None when unknown or malformed (rules.parse_job_definition_reference gives AWS's error)."""
        parsed = rules.split_job_definition_reference(reference)
        if (
            parsed is None
            or parsed.region not in (None, self.region)
            or parsed.account not in (None, self.account)
        ):
            return None
        if parsed.revision is None:
            return self.latest_active_job_definition(parsed.name)
        for definition in self.job_definitions.get(parsed.name, []):
            if definition.revision == parsed.revision:
                return definition
        return None

    def queues_using(self, compute_environment_arn: str) -> list[JobQueue]:
        return [
            queue
            for queue in self.job_queues.values()
            if any(
                o.compute_environment_arn == compute_environment_arn for o in queue.compute_environment_order
            )
        ]


class Store:
    """Every backend, created on first use for an (account, region)."""

    def __init__(self, listeners: list[TransitionListener] | None = None) -> None:
        self.lock = threading.RLock()
        self.listeners: list[TransitionListener] = listeners if listeners is not None else []
        self.tracks_changes = False  # set by the state directory, which saves what changed
        self._backends: dict[tuple[str, str], Backend] = {}

    def backend(self, account: str, region: str) -> Backend:
        key = (account, region)
        found = self._backends.get(key)
        if found is None:
            with self.lock:
                found = self._backends.get(key)
                if found is None:
                    found = Backend(account, region, listeners=self.listeners)
                    found.changed_jobs = set() if self.tracks_changes else None
                    self._backends[key] = found
        return found

    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    def reset(self) -> None:
        with self.lock:
            self._backends.clear()

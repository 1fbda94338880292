"""Jobs of a queue in submission order, overall and per status, so ListJobs pages cost what they return
and not what the store holds. Array children and multi-node nodes are not queue entries (ListJobs lists
them through their parent)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from batchemu.domain.models import Job

K = TypeVar("K")


@dataclass
class SequenceIndex:
    """Jobs by submission sequence; walks newest first from any point."""

    _keys: list[int] = field(default_factory=list)
    _jobs: dict[int, Job] = field(default_factory=dict)

    def add(self, job: Job) -> None:
        if job.sequence in self._jobs:
            return
        if not self._keys or self._keys[-1] < job.sequence:
            self._keys.append(job.sequence)  # the common case: a newer job
        else:
            insort(self._keys, job.sequence)
        self._jobs[job.sequence] = job

    def discard(self, job: Job) -> None:
        if self._jobs.pop(job.sequence, None) is not None:
            del self._keys[bisect_left(self._keys, job.sequence)]

    def newest_first(self, before: int | None = None) -> Iterator[Job]:
        """Jobs with a sequence below `before` (all when None), newest first."""
        end = len(self._keys) if before is None else bisect_left(self._keys, before)
        for position in range(end - 1, -1, -1):
            yield self._jobs[self._keys[position]]

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class QueueIndex:
    by_queue: dict[str, SequenceIndex] = field(default_factory=dict)
    by_queue_status: dict[tuple[str, str], SequenceIndex] = field(default_factory=dict)

    @staticmethod
    def is_entry(job: Job) -> bool:
        return job.array_index is None and job.node_index is None

    def add(self, job: Job) -> None:
        if self.is_entry(job):
            _index(self.by_queue, job.job_queue_arn).add(job)
            _index(self.by_queue_status, (job.job_queue_arn, job.status)).add(job)

    def moved(self, job: Job, old_status: str) -> None:
        if self.is_entry(job):
            old = self.by_queue_status.get((job.job_queue_arn, old_status))
            if old is not None:
                old.discard(job)
            _index(self.by_queue_status, (job.job_queue_arn, job.status)).add(job)

    def newest_first(self, queue_arn: str, status: str | None, before: int | None) -> Iterator[Job]:
        index = (
            self.by_queue.get(queue_arn) if status is None else self.by_queue_status.get((queue_arn, status))
        )
        return index.newest_first(before) if index is not None else iter(())

    def page(
        self, queue_arn: str, status: str | None, before: int | None, limit: int, keep: Callable[[Job], bool]
    ) -> tuple[list[Job], bool]:
        """Up to `limit` kept jobs, newest first, and whether more kept jobs follow."""
        found: list[Job] = []
        for job in self.newest_first(queue_arn, status, before):
            if keep(job):
                if len(found) == limit:
                    return found, True
                found.append(job)
        return found, False


def _index(indexes: dict[K, SequenceIndex], key: K) -> SequenceIndex:
    """indexes[key], made when missing (not setdefault: a SequenceIndex made for nothing costs a call)."""
    found = indexes.get(key)
    if found is None:
        found = indexes[key] = SequenceIndex()
    return found

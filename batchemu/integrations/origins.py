"""Which orchestrator on this endpoint started a job (a Step Functions execution, an EventBridge rule, an
EventBridge Scheduler schedule), noted as the job is submitted, for the dashboard's links both ways. In
memory only, bounded; imports the standard library only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_NOTED = 100_000  # the oldest are forgotten first: the links are a convenience, not state


@dataclass(frozen=True)
class Origin:
    kind: str  # "execution", "rule" or "schedule"
    arn: str
    name: str


class Origins:
    def __init__(self, limit: int = MAX_NOTED) -> None:
        self._by_job: OrderedDict[str, Origin] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def note(self, job_id: str, origin: Origin) -> None:
        with self._lock:
            self._by_job[job_id] = origin
            while len(self._by_job) > self._limit:
                self._by_job.popitem(last=False)

    def of(self, job_id: str) -> Origin | None:
        with self._lock:
            return self._by_job.get(job_id)

    def jobs_of(self, arn: str) -> list[str]:
        """The jobs `arn` started, oldest first."""
        with self._lock:
            return [job_id for job_id, origin in self._by_job.items() if origin.arn == arn]

    def counts(self) -> dict[str, int]:
        """How many jobs each orchestrator ARN started."""
        counted: dict[str, int] = {}
        with self._lock:
            for origin in self._by_job.values():
                counted[origin.arn] = counted.get(origin.arn, 0) + 1
        return counted

    def reset(self) -> None:
        with self._lock:
            self._by_job.clear()

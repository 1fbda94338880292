"""Fair-share ordering for queues with a scheduling policy.

The next job comes from the active share with the lowest weighted usage, where usage is the share's vCPUs
held now plus its decayed past consumption (vCPU-seconds spread over shareDecaySeconds), times its
weightFactor (a lower weight means a larger share). Within a share, higher schedulingPriority first, then
submission order. computeReservation keeps (computeReservation/100)^activeShares of the capacity free for
shares that are not running anything yet. AWS documents the algorithm only approximately; this is our
reading of it (docs/compatibility.md)."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field

from batchemu.domain import tasks
from batchemu.domain.models import Job, Spec
from batchemu.domain.store import Backend
from batchemu.domain.work import Lane, lanes_for

DEFAULT_WEIGHT = 1.0


def weight_of(policy: Spec, share: str | None) -> float:
    """The weightFactor for `share`: an exact entry, else the longest matching `prefix*` entry, else 1."""
    best, best_length = DEFAULT_WEIGHT, -1
    for entry in policy.get("share_distribution") or []:
        identifier = entry.get("share_identifier", "")
        weight = float(entry.get("weight_factor", DEFAULT_WEIGHT))
        if identifier == share:
            return weight
        if (
            identifier.endswith("*")
            and (share or "").startswith(identifier[:-1])
            and len(identifier) > best_length
        ):
            best, best_length = weight, len(identifier)
    return best


@dataclass
class ShareUsage:
    """Decayed vCPU-seconds consumed per share of one queue; survives between ticks."""

    consumed: dict[str, float] = field(default_factory=dict)
    updated_at: float | None = None

    def accrue(self, now: float, running: dict[str, float], decay_seconds: float) -> None:
        """Adds what each share ran since the last call and lets older usage decay."""
        if self.updated_at is not None and now > self.updated_at:
            elapsed = now - self.updated_at
            factor = math.exp(-elapsed / decay_seconds) if decay_seconds > 0 else 0.0
            for share in list(self.consumed):
                self.consumed[share] *= factor
            for share, vcpus in running.items():
                self.consumed[share] = self.consumed.get(share, 0.0) + vcpus * elapsed
        self.updated_at = now

    def history_vcpus(self, share: str, decay_seconds: float) -> float:
        if decay_seconds <= 0:
            return 0.0
        return self.consumed.get(share, 0.0) / decay_seconds


def share_lane(job: Job) -> Hashable:
    return job.share_identifier or ""


def share_key(job: Job) -> tuple[int, int, int]:
    """Order within a share: higher schedulingPriority first, then submission order."""
    return (-(job.scheduling_priority or 0), job.created_at, job.sequence)


class FairSharePicker:
    """Yields a queue's RUNNABLE jobs in fair-share order from one lane per share; told after each one
    whether it was placed. Only each share's head is looked at."""

    def __init__(
        self, policy: Spec, waiting: dict[str, Lane], running: dict[str, float], usage: ShareUsage
    ) -> None:
        self.policy = policy
        self.decay = float(policy.get("share_decay_seconds") or 0)
        self.reservation = float(policy.get("compute_reservation") or 0) / 100.0
        self.running = dict(running)
        self.usage = usage
        self.waiting = waiting
        self._done: set[str] = set()
        self._aside: list[tuple[Lane, tuple]] = []

    def score(self, share: str) -> float:
        held = self.running.get(share, 0.0) + self.usage.history_vcpus(share, self.decay)
        return held * weight_of(self.policy, share)

    def next(self) -> Job | None:
        shares = [
            share
            for share, lane in self.waiting.items()
            if share not in self._done and lane.head() is not None
        ]
        if not shares:
            return None
        share = min(shares, key=lambda s: (self.score(s), s))
        return self.waiting[share].head()

    def placed(self, job: Job, vcpus: float) -> None:
        share = job.share_identifier or ""
        self.waiting[share].pop()
        self.running[share] = self.running.get(share, 0.0) + vcpus

    def skipped(self, job: Job) -> None:
        """The share's head job cannot run now; the share waits until the next tick."""
        self._done.add(job.share_identifier or "")

    def deferred(self, job: Job) -> None:
        lane = self.waiting[job.share_identifier or ""]
        self._aside.append((lane, lane.take()))

    def restore(self) -> None:
        for lane, entry in self._aside:
            lane.put_back(entry)
        self._aside.clear()

    def reserved_fraction(self, share: str) -> float:
        """Capacity an already-active share must leave free for shares not yet running anything."""
        if self.reservation <= 0 or self.running.get(share, 0.0) <= 0:
            return 0.0
        active = sum(1 for vcpus in self.running.values() if vcpus > 0)
        return self.reservation**active


def running_by_share(backend: Backend, queue_arn: str) -> dict[str, float]:
    """vCPUs each share of the queue holds now (STARTING and RUNNING attempts)."""
    running: dict[str, float] = {}
    for status in ("STARTING", "RUNNING"):
        for live in backend.jobs_by_status[status].values():
            if live.job_queue_arn == queue_arn and live.current_attempt is not None:
                share = live.share_identifier or ""
                running[share] = running.get(share, 0.0) + live.current_attempt.vcpus
    return running


def dispatch_order(backend: Backend, policy: Spec, queue_arn: str, jobs: list[Job]) -> list[Job]:
    """The order the queue's RUNNABLE jobs would be dispatched in if each were placed in turn (past
    usage left out): what GetJobQueueSnapshot shows for a fair-share queue."""
    lanes = lanes_for(jobs, share_lane, share_key)
    picker = FairSharePicker(policy, lanes, running_by_share(backend, queue_arn), ShareUsage())  # type: ignore[arg-type]
    order = []
    while (job := picker.next()) is not None:
        order.append(job)
        picker.placed(job, tasks.job_requirements(job).vcpus)
    return order

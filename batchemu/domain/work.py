"""What the scheduler must look at next, kept current by Backend.move/add_job so a tick costs what changed
(a job arrives, capacity frees, a dependency ends, a timer fires), not what waits: RUNNABLE jobs per queue
in dispatch lanes (heaps), PENDING jobs whose dependencies may have changed, array parents whose last child
ended, live multi-node parents, and RUNNABLE jobs with a blocked reason on a timer heap. Pure domain."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from batchemu.domain.models import Job

_FINISHED = ("SUCCEEDED", "FAILED")
_LIVE = ("STARTING", "RUNNING")
# Every status a job may have: a parent's child counts hold each from the start (no lookups with defaults).
_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
LaneOf = Callable[[Job], Hashable]
KeyOf = Callable[[Job], tuple]


class Lane:
    """A queue's RUNNABLE jobs of one kind in dispatch order. Entries of jobs that left RUNNABLE are
    dropped when they reach the head (their token no longer matches the queue's). Entries that arrive in
    order (an array's children, jobs submitted one after another) wait in a run taken from the front at
    no cost; the others in a heap; the head is the smaller of the two fronts."""

    __slots__ = ("_run", "_heap", "_tokens")

    def __init__(self, tokens: dict[str, int]) -> None:
        self._run: deque[tuple[tuple, int, Job]] = deque()  # ascending
        self._heap: list[tuple[tuple, int, Job]] = []
        self._tokens = tokens

    def push(self, key: tuple, token: int, job: Job) -> None:
        self.put_back((key, token, job))

    def _front(self) -> deque[tuple[tuple, int, Job]] | list[tuple[tuple, int, Job]] | None:
        """Where the smallest entry is: the run, the heap, or None when the lane is empty."""
        run, heap = self._run, self._heap
        if heap and (not run or heap[0] < run[0]):
            return heap
        return run if run else None

    def head(self) -> Job | None:
        tokens = self._tokens
        while (front := self._front()) is not None:
            _key, token, job = front[0]
            if tokens.get(job.id) == token:
                return job
            self._take_from(front)
        return None

    def head_key(self) -> tuple | None:
        return self._front()[0][0] if self.head() is not None else None  # type: ignore[index]

    def pop(self) -> None:
        self.take()

    def take(self) -> tuple[tuple, int, Job]:
        """Removes the head entry, to be put back later (a job passed over for now)."""
        front = self._front()
        if front is None:
            raise IndexError("take from an empty lane")
        return self._take_from(front)

    def _take_from(
        self, front: deque[tuple[tuple, int, Job]] | list[tuple[tuple, int, Job]]
    ) -> tuple[tuple, int, Job]:
        if front is self._run:
            return self._run.popleft()
        return heapq.heappop(self._heap)

    def put_back(self, entry: tuple[tuple, int, Job]) -> None:
        run = self._run
        if not run or run[-1] < entry:
            run.append(entry)
        else:
            heapq.heappush(self._heap, entry)

    def __len__(self) -> int:
        return len(self._run) + len(self._heap)


class QueueLanes:
    """A queue's RUNNABLE jobs: `members` (by id, in arrival order) and, once the scheduler has said how
    it orders this queue (`use`), lanes: heaps keyed by `key_of`, split by `lane_of`."""

    def __init__(self) -> None:
        self.members: dict[str, Job] = {}
        self.tokens: dict[str, int] = {}
        self.mode: Hashable = None
        self.lanes: dict[Hashable, Lane] = {}
        self._lane_of: LaneOf | None = None
        self._key_of: KeyOf | None = None

    def add(self, job: Job, token: int) -> None:
        self.members[job.id] = job
        self.tokens[job.id] = token
        if self._lane_of is not None:
            self._push(job, token)

    def remove(self, job: Job) -> None:
        self.members.pop(job.id, None)
        self.tokens.pop(job.id, None)

    def use(self, mode: Hashable, lane_of: LaneOf, key_of: KeyOf) -> dict[Hashable, Lane]:
        """The lanes for `mode`; rebuilt from the members when the mode changed or stale entries pile up."""
        if mode != self.mode or sum(map(len, self.lanes.values())) > 2 * len(self.members) + 64:
            self.mode, self._lane_of, self._key_of = mode, lane_of, key_of
            self.lanes = {}
            for job in self.members.values():
                self._push(job, self.tokens[job.id])
        for name in [name for name, lane in self.lanes.items() if lane.head() is None]:
            del self.lanes[name]
        return self.lanes

    def _push(self, job: Job, token: int) -> None:
        assert self._lane_of is not None and self._key_of is not None
        lane_name = self._lane_of(job)
        lane = self.lanes.get(lane_name)
        if lane is None:
            lane = self.lanes[lane_name] = Lane(self.tokens)
        lane.push(self._key_of(job), token, job)


def _add(used: list[float], vcpus: float, memory: int, gpus: int) -> None:
    """Adds to [vCPUs, MiB, GPUs] held, never below zero."""
    total = used[0] + vcpus
    used[0] = total if total > 0 else 0.0
    total = used[1] + memory
    used[1] = total if total > 0 else 0
    total = used[2] + gpus
    used[2] = total if total > 0 else 0


def lanes_for(jobs: Iterator[Job] | list[Job], lane_of: LaneOf, key_of: KeyOf) -> dict[Hashable, Lane]:
    """Throwaway lanes over `jobs` (a snapshot's ordering, not kept current)."""
    tokens: dict[str, int] = {}
    lanes: dict[Hashable, Lane] = {}
    for token, job in enumerate(jobs):
        tokens[job.id] = token
        name = lane_of(job)
        lane = lanes.get(name)
        if lane is None:
            lane = lanes[name] = Lane(tokens)
        lane.push(key_of(job), token, job)
    return lanes


@dataclass
class TimerEntry:
    due: int
    token: int
    job: Job
    reason_changed_at: int

    def __lt__(self, other: TimerEntry) -> bool:
        return (self.due, self.token) < (other.due, other.token)


@dataclass
class SchedulerWork:
    """Per backend. `stale` asks the scheduler to rebuild everything from the status index (a new or
    loaded backend); after that, Backend keeps it current on every add and move."""

    stale: bool = True
    queues: dict[str, QueueLanes] = field(default_factory=dict)  # queue ARN -> its RUNNABLE jobs
    runnable_arrivals: int = 0  # counts jobs entering RUNNABLE (the runner-unavailable hold re-checks)
    pending_check: dict[str, None] = field(default_factory=dict)  # ids of PENDING jobs to evaluate again
    dependents: dict[str, set[str]] = field(default_factory=dict)  # job id -> PENDING ids waiting on it
    parents_ready: dict[str, None] = field(default_factory=dict)  # ids of array parents whose children ended
    child_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # parent id -> status -> n
    multinode_parents: dict[str, Job] = field(default_factory=dict)  # live, nodes spawned
    blocked: dict[str, Job] = field(default_factory=dict)  # RUNNABLE with a status reason
    newly_blocked: list[Job] = field(default_factory=list)  # for the time-limit timers
    timers: list[TimerEntry] = field(default_factory=list)  # heap of jobStateTimeLimitActions due times
    timer_fingerprint: Any = None
    # Capacity held by live attempts: compute environment ARN -> [vCPUs, MiB, GPUs]; job id -> what it holds.
    capacity: dict[str, list[float]] = field(default_factory=dict)
    held: dict[str, tuple[str, float, int, int, str | None]] = field(default_factory=dict)
    # The same per container instance: ARN -> [vCPUs, MiB, GPUs], and the ids of the jobs on it.
    instance_usage: dict[str, list[float]] = field(default_factory=dict)
    jobs_on: dict[str, set[str]] = field(default_factory=dict)
    freed: set[str] = field(default_factory=set)  # instances a job left since the fleets last looked
    # RUNNING jobs to poll: now (`attention`: new, or told to stop), at a time (`polls` heap: when the
    # runner says its answer may change or the timeout is due), or on every tick (`polled`: no such time).
    attention: dict[str, None] = field(default_factory=dict)
    polls: list[tuple[int, int, str]] = field(default_factory=list)
    polled: dict[str, None] = field(default_factory=dict)
    _token: int = 0

    # -- kept current by Backend -------------------------------------------------------------------
    def added(self, job: Job) -> None:
        if job.parent_id is not None:
            counts = self.child_counts.get(job.parent_id)
            if counts is None:
                counts = self.child_counts[job.parent_id] = dict.fromkeys(_STATUSES, 0)
            counts[job.status] += 1
        if job.status == "PENDING":
            self.pending_check[job.id] = None
        elif job.status == "RUNNABLE":
            self._enter_runnable(job)

    def moved(self, job: Job, old: str) -> None:
        new = job.status
        if new != old:
            if new in _LIVE:
                if old not in _LIVE:
                    self._hold(job)
            elif old in _LIVE:
                self._release(job.id)
                self.polled.pop(job.id, None)
            if old == "RUNNABLE":
                lanes = self.queues.get(job.job_queue_arn)
                if lanes is not None:
                    lanes.remove(job)
            if new == "RUNNABLE":
                self._enter_runnable(job)
            elif new == "PENDING":
                self.pending_check[job.id] = None
            elif new == "RUNNING" or new in _FINISHED:
                if new == "RUNNING":
                    self.attention[job.id] = None
                else:
                    self.multinode_parents.pop(job.id, None)
                if self.dependents:
                    self._wake_dependents(job.id)
            if job.parent_id is not None:
                self._child_moved(job, old, new)
        if new == "RUNNABLE" and job.status_reason:
            self.blocked[job.id] = job
            self.newly_blocked.append(job)
        elif self.blocked:
            self.blocked.pop(job.id, None)

    def touched(self, job: Job) -> None:
        """A live job changed outside a transition (a stop was asked): poll it on the next tick."""
        if job.status == "RUNNING":
            self.attention[job.id] = None

    def _hold(self, job: Job) -> None:
        attempt = job.current_attempt
        if attempt is None or job.id in self.held:
            return
        arn = attempt.compute_environment_arn
        instance = attempt.container.container_instance_arn
        vcpus, memory, gpus = attempt.vcpus, attempt.memory, attempt.gpus
        self.held[job.id] = (arn, vcpus, memory, gpus, instance)
        _add(self.capacity.get(arn) or self.capacity.setdefault(arn, [0.0, 0, 0]), vcpus, memory, gpus)
        if instance is not None:
            used = self.instance_usage.get(instance) or self.instance_usage.setdefault(instance, [0.0, 0, 0])
            _add(used, vcpus, memory, gpus)
            jobs = self.jobs_on.get(instance)
            if jobs is None:
                jobs = self.jobs_on[instance] = set()
            jobs.add(job.id)

    def _release(self, job_id: str) -> None:
        found = self.held.pop(job_id, None)
        if found is None:
            return
        arn, vcpus, memory, gpus, instance = found
        _add(self.capacity.get(arn) or self.capacity.setdefault(arn, [0.0, 0, 0]), -vcpus, -memory, -gpus)
        if instance is not None:
            used = self.instance_usage.get(instance) or self.instance_usage.setdefault(instance, [0.0, 0, 0])
            _add(used, -vcpus, -memory, -gpus)
            jobs = self.jobs_on.get(instance)
            if jobs is not None:
                jobs.discard(job_id)
            self.freed.add(instance)

    def poll_at(self, job_id: str, due: int | None) -> None:
        """When to poll a RUNNING job next: at `due` (epoch ms), or on every tick when None."""
        if due is None:
            self.polled[job_id] = None
        else:
            self.polled.pop(job_id, None)
            self._token += 1
            heapq.heappush(self.polls, (due, self._token, job_id))

    def drain_polls(self, now: int) -> list[str]:
        """RUNNING job ids to poll at `now`: asked for attention, due, or polled on every tick."""
        ids = dict(self.attention)
        self.attention.clear()
        while self.polls and self.polls[0][0] <= now:
            ids[heapq.heappop(self.polls)[2]] = None
        ids.update(self.polled)
        return list(ids)

    def _enter_runnable(self, job: Job) -> None:
        self.runnable_arrivals += 1
        if job.is_multi_node_parent:
            return  # follows its main node; never placed itself
        self._token += 1
        lanes = self.queues.get(job.job_queue_arn)
        if lanes is None:
            lanes = self.queues[job.job_queue_arn] = QueueLanes()
        lanes.add(job, self._token)

    def _wake_dependents(self, job_id: str) -> None:
        for waiting in self.dependents.pop(job_id, ()):
            self.pending_check[waiting] = None

    def _child_moved(self, job: Job, old: str, new: str) -> None:
        counts = self.child_counts.get(job.parent_id or "")
        if counts is None:
            counts = self.child_counts[job.parent_id or ""] = dict.fromkeys(_STATUSES, 0)
        counts[old] -= 1
        counts[new] += 1
        if new in _FINISHED and old not in _FINISHED and job.array_index is not None:
            if counts["SUCCEEDED"] + counts["FAILED"] == sum(counts.values()):
                self.parents_ready[job.parent_id or ""] = None

    # -- used by the scheduler ---------------------------------------------------------------------
    def waits_on(self, job: Job, job_ids: list[str]) -> None:
        """`job` stays PENDING until one of `job_ids` changes; it is evaluated again then."""
        for job_id in job_ids:
            self.dependents.setdefault(job_id, set()).add(job.id)

    def drain_pending(self, limit: int | None = None) -> list[str]:
        """Up to `limit` ids of PENDING jobs to evaluate (the rest wait for the next tick, so one tick
        does not hold the store lock through a whole new array)."""
        if limit is None or len(self.pending_check) <= limit:
            ids = list(self.pending_check)
            self.pending_check.clear()
            return ids
        ids = []
        for job_id in self.pending_check:
            ids.append(job_id)
            if len(ids) == limit:
                break
        for job_id in ids:
            del self.pending_check[job_id]
        return ids

    def drain_parents(self) -> list[str]:
        ids = list(self.parents_ready)
        self.parents_ready.clear()
        return ids

    def lanes_of(self, queue_arn: str) -> QueueLanes | None:
        found = self.queues.get(queue_arn)
        return found if found is not None and found.members else None

    def has_runnable(self) -> bool:
        return any(lanes.members for lanes in self.queues.values())

    def push_timer(self, job: Job, due: int) -> None:
        self._token += 1
        heapq.heappush(self.timers, TimerEntry(due, self._token, job, job.reason_changed_at))

    def due_timers(self, now: int) -> Iterator[TimerEntry]:
        while self.timers and self.timers[0].due <= now:
            yield heapq.heappop(self.timers)

    def rebuild(self, jobs_by_status: dict[str, dict[str, Job]]) -> None:
        """Everything from the status index, for a backend filled by other means (the state directory)."""
        self.queues.clear()
        self.pending_check.clear()
        self.dependents.clear()
        self.parents_ready.clear()
        self.multinode_parents.clear()
        self.blocked.clear()
        self.newly_blocked.clear()
        self.timers.clear()
        self.timer_fingerprint = None
        self.capacity.clear()
        self.held.clear()
        self.instance_usage.clear()
        self.jobs_on.clear()
        self.freed.clear()
        self.attention.clear()
        self.polls.clear()
        self.polled.clear()
        for status in _LIVE:
            for job in jobs_by_status[status].values():
                self._hold(job)
        for job in jobs_by_status["RUNNING"].values():
            self.attention[job.id] = None
        for job in jobs_by_status["RUNNABLE"].values():
            self._enter_runnable(job)
            if job.status_reason:
                self.blocked[job.id] = job
                self.newly_blocked.append(job)
        for job in jobs_by_status["PENDING"].values():
            self.pending_check[job.id] = None
            if job.is_array_parent and job.child_ids:
                counts = self.child_counts.get(job.id, {})
                if counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0) == len(job.child_ids):
                    self.parents_ready[job.id] = None
        for status in ("RUNNABLE", "STARTING", "RUNNING"):
            for job in jobs_by_status[status].values():
                if job.is_multi_node_parent and job.child_ids:
                    self.multinode_parents[job.id] = job
        self.stale = False

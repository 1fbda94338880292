"""RUNNABLE -> STARTING: queues by descending priority, jobs in FIFO or fair-share order (from the
queue's lanes in backend.work), compute environments in `order`, a job placed only where its vCPUs fit
what is left of maxvCpus and, on MANAGED EC2/SPOT environments, on an instance with room for its vCPUs,
memory and GPUs (instances.py). A job that can never fit blocks the head of its queue with AWS's
MISCONFIGURATION reason."""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Hashable, Iterable
from typing import Protocol

from batchemu import arns
from batchemu.domain import params, tasks
from batchemu.domain.instance_types import InstanceType
from batchemu.domain.models import Attempt, ComputeEnvironment, Job, JobQueue, Spec, TaskContainerAttempt
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend
from batchemu.domain.work import Lane
from batchemu.runners.base import Runner
from batchemu.scheduler import lifecycle
from batchemu.scheduler.capacity import CapacityLedger
from batchemu.scheduler.consumables import ConsumableLedger
from batchemu.scheduler.consumables import needs as consumable_needs
from batchemu.scheduler.fairshare import FairSharePicker, ShareUsage, running_by_share, share_key, share_lane
from batchemu.scheduler.instances import Fleets, Instance, has_instances

JOB_RESOURCE_REQUIREMENT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher "
    "than that can be met by the CE(s) attached to the job queue."
)
_SERVING = ("VALID", "UPDATING")
# batchemu's own blocked reason, in AWS's CATEGORY - detail form.
RUNNER_UNAVAILABLE = "UNDETERMINED:RUNNER_UNAVAILABLE"
_PLACED = JobEvent.PLACED  # read once: an enum member costs a metaclass lookup at each read


class Picker(Protocol):
    def next(self) -> Job | None: ...
    def placed(self, job: Job, vcpus: float) -> None: ...
    def skipped(self, job: Job) -> None: ...
    def deferred(self, job: Job) -> None: ...
    def restore(self) -> None: ...
    def reserved_fraction(self, share: str) -> float: ...


def fifo_key(job: Job) -> tuple[int, int, int]:
    """FIFO dispatch order: retried jobs back at the front (as AWS puts them), then submission order."""
    return (0 if job.attempts else 1, job.created_at, job.sequence)


def fifo_lane(job: Job) -> Hashable:
    """Jobs that need the same are one FIFO lane: when one of them must wait for capacity, so must every
    later one, so a pass leaves the lane there and its cost does not grow with the backlog."""
    need = tasks.job_requirements(job)
    consumables = tuple(sorted(consumable_needs(job).items())) if job.consumable_resource_properties else ()
    return (need.vcpus, need.memory_mib, need.gpus, consumables)


class FifoPicker:
    """Submission order (retried jobs back at the front, as AWS puts them) merged over the lanes."""

    def __init__(self, lanes: Iterable[Lane]) -> None:
        self._heads: list[tuple[tuple, int, Lane]] = []
        for number, lane in enumerate(lanes):
            key = lane.head_key()
            if key is not None:
                self._heads.append((key, number, lane))
        heapq.heapify(self._heads)
        self._aside: list[tuple[Lane, tuple]] = []

    def next(self) -> Job | None:
        return self._heads[0][2].head() if self._heads else None

    def placed(self, job: Job, vcpus: float) -> None:
        _key, number, lane = heapq.heappop(self._heads)
        lane.pop()
        self._advance(lane, number)

    def skipped(self, job: Job) -> None:
        heapq.heappop(self._heads)  # the rest of its lane waits too; smaller jobs behind it do not

    def deferred(self, job: Job) -> None:
        """Still dwelling in RUNNABLE (`--pace realistic`): passed over this time, kept in its lane."""
        _key, number, lane = heapq.heappop(self._heads)
        self._aside.append((lane, lane.take()))
        self._advance(lane, number)

    def restore(self) -> None:
        for lane, entry in self._aside:
            lane.put_back(entry)
        self._aside.clear()

    def _advance(self, lane: Lane, number: int) -> None:
        key = lane.head_key()
        if key is not None:
            heapq.heappush(self._heads, (key, number, lane))

    def reserved_fraction(self, share: str) -> float:
        return 0.0


class Placer:
    def __init__(
        self, runner: Runner, dwell_ms: Callable[[str], int], launch: lifecycle.Launch | None = None
    ) -> None:
        self.runner = runner
        self.launch = launch or lifecycle.Launch()
        self.dwell_ms = dwell_ms
        self.share_usage: dict[str, ShareUsage] = {}  # by queue ARN
        self._instances: dict[str, str] = {}  # compute environment ARN -> its container instance ARN
        self._held: dict[tuple[str, str], tuple[str, int]] = {}  # backend -> (reason, arrivals) held
        # The instances of MANAGED EC2/SPOT compute environments; a runner with real nodes may name them
        # (an optional `node_provider` attribute, see scheduler/instances.NodeProvider).
        self.fleets = Fleets(getattr(runner, "node_provider", None))
        self._capacity: Callable[[str], list] | None = None  # the runner's hosts, if it has its own

    def reset(self) -> None:
        """Forgets every instance and share's usage (the store was cleared)."""
        self.share_usage.clear()
        self._instances.clear()
        self._held.clear()
        self.fleets = Fleets(self.fleets.nodes)

    def place_runnable(self, backend: Backend, now: int) -> bool:
        """Each queue with RUNNABLE jobs, by priority: what it costs grows with the jobs placed and the
        queue's lanes, not with the jobs that wait."""
        work = backend.work
        changed = self.fleets.scale(backend, now)
        if not work.has_runnable():
            return changed
        unavailable = self.runner_unavailable()
        if unavailable is not None:
            return self._hold_all(backend, now, f"{RUNNER_UNAVAILABLE} - {unavailable}") or changed
        self._held.pop((backend.account, backend.region), None)
        self._capacity = getattr(self.runner, "capacity", None)  # looked up once a pass, not once a job
        ledger = lifecycle.ledger_of(backend)
        consumables = ConsumableLedger(backend)
        queues = sorted(
            (q for q in backend.job_queues.values() if q.status in _SERVING and work.lanes_of(q.arn)),
            key=lambda q: -q.priority,
        )
        for queue in queues:
            changed |= self._serve_queue(backend, queue, ledger, consumables, now)
        return changed

    def _serve_queue(
        self,
        backend: Backend,
        queue: JobQueue,
        ledger: CapacityLedger,
        consumables: ConsumableLedger,
        now: int,
    ) -> bool:
        environments = [
            ce
            for order in sorted(queue.compute_environment_order, key=lambda o: o.order)
            if (ce := backend.find_compute_environment(order.compute_environment_arn)) is not None
        ]
        usable = [ce for ce in environments if ce.state == "ENABLED" and ce.status in _SERVING]
        picker = self._picker(backend, queue, now)
        dwell = self.dwell_ms("RUNNABLE")
        changed = False
        while (job := picker.next()) is not None:
            if dwell and now - job.status_changed_at < dwell:
                picker.deferred(job)
                continue
            need = tasks.job_requirements(job)
            reserve = picker.reserved_fraction(job.share_identifier or "")
            target, where = self._target(backend, usable, ledger, need, reserve)
            if target is not None and not consumables.fits(job):
                picker.skipped(job)  # waits for a consumable resource to be released
            elif target is not None:
                ledger.hold(target.arn, need)
                consumables.hold(job)
                if where is not None and not isinstance(where, Instance):
                    where = self.fleets.launch(backend, target, where, now)
                self._start(backend, queue, target, job, need, now, where)
                picker.placed(job, need.vcpus)
                changed = True
            elif usable and not any(self._could_ever_fit(ledger, ce, need) for ce in usable):
                if job.status_reason != JOB_RESOURCE_REQUIREMENT:
                    backend.move(job, JobEvent.BLOCKED, now, reason=JOB_RESOURCE_REQUIREMENT)
                    changed = True
                break  # head-of-line blocking: nothing behind it in this queue moves
            else:
                picker.skipped(job)
        picker.restore()
        return changed

    def _target(
        self,
        backend: Backend,
        usable: list[ComputeEnvironment],
        ledger: CapacityLedger,
        need: params.Requirements,
        reserve: float,
    ) -> tuple[ComputeEnvironment | None, Instance | InstanceType | None]:
        """The first environment (in `order`) with room: vCPUs under maxvCpus and, where it runs
        instances, an instance with room or one to launch."""
        for environment in usable:
            if not ledger.fits_now(environment, need, reserve) or not self._hosts_fit(
                ledger, environment, need
            ):
                continue
            if not has_instances(environment):
                return environment, None
            where = self.fleets.find(backend, environment, need)
            if where is not None:
                return environment, where
        return None, None

    def _could_ever_fit(
        self, ledger: CapacityLedger, environment: ComputeEnvironment, need: params.Requirements
    ) -> bool:
        if not ledger.could_ever_fit(environment, need):
            return False
        return not has_instances(environment) or self.fleets.fleet(environment).could_ever_fit(
            environment, need
        )

    def _container_instance(self, backend: Backend, environment: ComputeEnvironment) -> str:
        """One container instance per compute environment: this emulator is its one host."""
        found = self._instances.get(environment.arn)
        if found is None:
            cluster = environment.ecs_cluster_arn or ""
            found = arns.container_instance_arn(backend.region, backend.account, cluster)
            self._instances[environment.arn] = found
        return found

    def _hosts_fit(
        self, ledger: CapacityLedger, environment: ComputeEnvironment, need: params.Requirements
    ) -> bool:
        """Runners with hosts of their own (swarm) also bound what runs at once by the resources of the
        hosts serving `environment`: `capacity(name)` lists them, each with `vcpus` and `memory_mib`."""
        capacity = self._capacity
        if capacity is None:
            return True
        hosts = capacity(environment.name)
        used = ledger.usage(environment.arn)
        return used.vcpus + need.vcpus <= sum(
            host.vcpus for host in hosts
        ) + 1e-9 and used.memory_mib + need.memory_mib <= sum(host.memory_mib for host in hosts)

    def runner_unavailable(self) -> str | None:
        check = getattr(self.runner, "unavailable_reason", None)
        return check() if check is not None else None

    def _hold_all(self, backend: Backend, now: int, reason: str) -> bool:
        """Nothing can start: every RUNNABLE job says why, and waits (looked at again only when the
        reason changes or jobs arrive)."""
        key = (backend.account, backend.region)
        if self._held.get(key) == (reason, backend.work.runnable_arrivals):
            return False
        changed = False
        for job in list(backend.jobs_by_status["RUNNABLE"].values()):
            if job.status_reason != reason and not job.is_multi_node_parent:
                backend.move(job, JobEvent.BLOCKED, now, reason=reason)
                changed = True
        self._held[key] = (reason, backend.work.runnable_arrivals)
        return changed

    def _picker(self, backend: Backend, queue: JobQueue, now: int) -> Picker:
        lanes = backend.work.lanes_of(queue.arn)
        assert lanes is not None
        policy = (
            backend.find_scheduling_policy(queue.scheduling_policy_arn)
            if queue.scheduling_policy_arn
            else None
        )
        if policy is None or policy.fairshare_policy is None:
            return FifoPicker(lanes.use("fifo", fifo_lane, fifo_key).values())
        running = running_by_share(backend, queue.arn)
        usage = self.share_usage.setdefault(queue.arn, ShareUsage())
        usage.accrue(now / 1000, running, float(policy.fairshare_policy.get("share_decay_seconds") or 0))
        shares = lanes.use("share", share_lane, share_key)
        return FairSharePicker(policy.fairshare_policy, shares, running, usage)  # type: ignore[arg-type]

    def _start(
        self,
        backend: Backend,
        queue: JobQueue,
        environment: ComputeEnvironment,
        job: Job,
        need: params.Requirements,
        now: int,
        instance: Instance | None = None,
    ) -> None:
        if instance is not None:
            instance.idle_since = None  # busy now (idle instances are looked for once a second)
        instance_arn = (
            instance.container_instance_arn
            if instance is not None
            else self._container_instance(backend, environment)
        )
        attempt = new_attempt(backend, job, environment, need, instance_arn)
        backend.move(job, _PLACED, now, attempt=attempt)
        lifecycle.start_attempt(backend, job, queue, environment, self.runner, self.launch, now)


def new_attempt(
    backend: Backend, job: Job, environment: ComputeEnvironment, need: params.Requirements, instance_arn: str
) -> Attempt:
    """An attempt with its ECS task identity and log stream `<jobDefinition or awslogs-stream-prefix>/default/<task id>`;
    a multi-container job's containers each get `.../<container name>/<task id>`."""
    cluster = environment.ecs_cluster_arn or ""
    attempt = Attempt(
        number=job.attempt_count + 1,
        compute_environment_arn=environment.arn,
        vcpus=need.vcpus,
        memory=need.memory_mib,
        gpus=need.gpus,
    )
    task_id = arns.new_task_id()
    attempt.container.task_arn = arns.ecs_task_arn(backend.region, backend.account, cluster, task_id)
    attempt.container.container_instance_arn = instance_arn
    definition = _definition_name(job.job_definition_arn)
    if job.container is not None:
        prefix = _STREAM_PREFIX(job.container, definition)
    else:
        prefix = _stream_prefix(None, definition)
    attempt.container.log_stream_name = f"{prefix}/default/{task_id}"
    if tasks.runs_as_task(job):
        attempt.task_containers = [
            TaskContainerAttempt(
                name,
                f"{_stream_prefix(container, definition)}/{name}/{task_id}",
            )
            for container in tasks.job_containers(job)
            if (name := container.get("name") or "default")
        ]
    return attempt


def _stream_prefix(container: Spec | None, definition: str) -> str:
    """awslogs-stream-prefix, else the job definition's name (at most 200 characters)."""
    options = ((container or {}).get("log_configuration") or {}).get("options") or {}
    return str(options.get("awslogs-stream-prefix") or definition)[:200]


# Array children share a container, and jobs that change nothing their definition's: the prefix is the same.
_STREAM_PREFIX = params.PerContainer(_stream_prefix)


@functools.lru_cache(maxsize=1024)
def _definition_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]

"""RUNNABLE -> STARTING: queues by descending priority, jobs in FIFO or fair-share order, compute
environments in `order`, a job placed only where its vCPUs fit what is left of maxvCpus. A job that can
never fit blocks the head of its queue with AWS's MISCONFIGURATION reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from batchemu import arns
from batchemu.domain import params
from batchemu.domain.models import Attempt, ComputeEnvironment, Job, JobQueue
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend
from batchemu.runners.base import Runner
from batchemu.scheduler import lifecycle
from batchemu.scheduler.capacity import CapacityLedger
from batchemu.scheduler.consumables import ConsumableLedger
from batchemu.scheduler.fairshare import FairSharePicker, ShareUsage, running_by_share

JOB_RESOURCE_REQUIREMENT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher "
    "than that can be met by the CE(s) attached to the job queue."
)
_SERVING = ("VALID", "UPDATING")
# batchemu's own blocked reason, in AWS's CATEGORY - detail form.
RUNNER_UNAVAILABLE = "UNDETERMINED:RUNNER_UNAVAILABLE"


class Picker(Protocol):
    def next(self) -> Job | None: ...
    def placed(self, job: Job, vcpus: float) -> None: ...
    def skipped(self, job: Job) -> None: ...
    def reserved_fraction(self, share: str) -> float: ...


def fifo_key(job: Job) -> tuple[int, int, int]:
    """FIFO dispatch order: retried jobs back at the front (as AWS puts them), then submission order."""
    return (0 if job.attempts else 1, job.created_at, job.sequence)


class FifoPicker:
    """Submission order, with retried jobs back at the front (as AWS puts them)."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = sorted(jobs, key=fifo_key)
        self._index = 0

    def next(self) -> Job | None:
        return self._jobs[self._index] if self._index < len(self._jobs) else None

    def placed(self, job: Job, vcpus: float) -> None:
        self._index += 1

    def skipped(self, job: Job) -> None:
        self._index += 1  # a job waiting for capacity does not hold back smaller ones behind it

    def reserved_fraction(self, share: str) -> float:
        return 0.0


class Placer:
    def __init__(self, runner: Runner, dwell_ms: Callable[[str], int], job_secret: str = "batchemu") -> None:
        self.runner = runner
        self.job_secret = job_secret
        self.dwell_ms = dwell_ms
        self.share_usage: dict[str, ShareUsage] = {}  # by queue ARN
        self._instances: dict[str, str] = {}  # compute environment ARN -> its container instance ARN

    def place_runnable(self, backend: Backend, now: int) -> bool:
        runnable = backend.jobs_by_status["RUNNABLE"]
        if not runnable:
            return False
        unavailable = self.runner_unavailable()
        if unavailable is not None:
            return self._hold_all(backend, now, f"{RUNNER_UNAVAILABLE} - {unavailable}")
        dwell = self.dwell_ms("RUNNABLE")
        by_queue: dict[str, list[Job]] = {}
        for job in runnable.values():
            if now - job.status_changed_at >= dwell and not job.is_multi_node_parent:
                by_queue.setdefault(job.job_queue_arn, []).append(job)
        ledger = lifecycle.ledger_of(backend)
        consumables = ConsumableLedger(backend)
        queues = sorted(
            (q for q in backend.job_queues.values() if q.arn in by_queue and q.status in _SERVING),
            key=lambda q: -q.priority,
        )
        changed = False
        for queue in queues:
            changed |= self._serve_queue(backend, queue, by_queue[queue.arn], ledger, consumables, now)
        return changed

    def _serve_queue(
        self,
        backend: Backend,
        queue: JobQueue,
        jobs: list[Job],
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
        picker = self._picker(backend, queue, jobs, now)
        changed = False
        while (job := picker.next()) is not None:
            need = params.requirements(job.container)
            reserve = picker.reserved_fraction(job.share_identifier or "")
            target = next(
                (
                    ce
                    for ce in usable
                    if ledger.fits_now(ce, need, reserve) and self._hosts_fit(ledger, ce, need)
                ),
                None,
            )
            if target is not None and not consumables.fits(job):
                picker.skipped(job)  # waits for a consumable resource to be released
            elif target is not None:
                ledger.hold(target.arn, need)
                consumables.hold(job)
                self._start(backend, queue, target, job, need, now)
                picker.placed(job, need.vcpus)
                changed = True
            elif usable and not any(ledger.could_ever_fit(ce, need) for ce in usable):
                if job.status_reason != JOB_RESOURCE_REQUIREMENT:
                    backend.move(job, JobEvent.BLOCKED, now, reason=JOB_RESOURCE_REQUIREMENT)
                    changed = True
                break  # head-of-line blocking: nothing behind it in this queue moves
            else:
                picker.skipped(job)
        return changed

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
        capacity = getattr(self.runner, "capacity", None)
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

    @staticmethod
    def _hold_all(backend: Backend, now: int, reason: str) -> bool:
        """Nothing can start: every RUNNABLE job says why, and waits."""
        changed = False
        for job in list(backend.jobs_by_status["RUNNABLE"].values()):
            if job.status_reason != reason and not job.is_multi_node_parent:
                backend.move(job, JobEvent.BLOCKED, now, reason=reason)
                changed = True
        return changed

    def _picker(self, backend: Backend, queue: JobQueue, jobs: list[Job], now: int) -> Picker:
        policy = (
            backend.find_scheduling_policy(queue.scheduling_policy_arn)
            if queue.scheduling_policy_arn
            else None
        )
        if policy is None or policy.fairshare_policy is None:
            return FifoPicker(jobs)
        running = running_by_share(backend, queue.arn)
        usage = self.share_usage.setdefault(queue.arn, ShareUsage())
        usage.accrue(now / 1000, running, float(policy.fairshare_policy.get("share_decay_seconds") or 0))
        return FairSharePicker(policy.fairshare_policy, jobs, running, usage)

    def _start(
        self,
        backend: Backend,
        queue: JobQueue,
        environment: ComputeEnvironment,
        job: Job,
        need: params.Requirements,
        now: int,
    ) -> None:
        attempt = new_attempt(backend, job, environment, need, self._container_instance(backend, environment))
        backend.move(job, JobEvent.PLACED, now, attempt=attempt)
        lifecycle.start_attempt(backend, job, queue, environment, self.runner, self.job_secret)


def new_attempt(
    backend: Backend, job: Job, environment: ComputeEnvironment, need: params.Requirements, instance_arn: str
) -> Attempt:
    """An attempt with its ECS task identity and log stream `<jobDefinition or awslogs-stream-prefix>/default/<task id>`."""
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
    options = ((job.container or {}).get("log_configuration") or {}).get("options") or {}
    prefix = (
        options.get("awslogs-stream-prefix") or job.job_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    )
    attempt.container.log_stream_name = f"{prefix[:200]}/default/{task_id}"
    return attempt

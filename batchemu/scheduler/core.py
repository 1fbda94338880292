"""Scheduler.tick(now): resources settle (CREATING -> VALID...), jobs leave SUBMITTED, wait on
dependencies, get placed on compute environments with capacity, and live attempts are polled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from batchemu import arns
from batchemu.clock import to_millis
from batchemu.domain import params
from batchemu.domain.models import Attempt, Job, JobQueue
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend, Store
from batchemu.runners.base import Runner
from batchemu.scheduler import arrays, dependencies, lifecycle, resources
from batchemu.scheduler.capacity import CapacityLedger

log = logging.getLogger("batchemu.scheduler")

JOB_RESOURCE_REQUIREMENT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher "
    "than that can be met by the CE(s) attached to the job queue."
)


class Scheduler:
    def __init__(self, store: Store, runner: Runner) -> None:
        self.store = store
        self.runner = runner

    def tick(self, now: float) -> bool:
        """One step for everything; True when anything changed (so the caller may tick again soon)."""
        changed = False
        with self.store.lock:
            for backend in self.store.backends():
                changed |= resources.settle(backend, now)
                changed |= self._tick_backend(backend, to_millis(now))
        return changed

    def _tick_backend(self, backend: Backend, now: int) -> bool:
        move = backend.move
        changed = arrays.advance_parents(backend, now, move)
        changed |= self._leave_submitted(backend, now, move)
        changed |= dependencies.advance_pending(backend, now, move)
        changed |= lifecycle.advance_live(backend, now, self.runner, move)
        changed |= self._place_runnable(backend, now, move)
        return changed

    def _leave_submitted(self, backend: Backend, now: int, move: Callable[..., None]) -> bool:
        submitted = list(backend.jobs_by_status["SUBMITTED"].values())
        for job in submitted:
            if job.is_array_parent:
                arrays.spawn_children(backend, job, now, move)
            elif dependencies.unmet(backend, job):
                move(job, JobEvent.WAIT_FOR_DEPENDENCIES, now)
            else:
                move(job, JobEvent.READY, now)
        return bool(submitted)

    def _place_runnable(self, backend: Backend, now: int, move: Callable[..., None]) -> bool:
        runnable = backend.jobs_by_status["RUNNABLE"]
        if not runnable:
            return False
        ledger = lifecycle.ledger_of(backend)
        by_queue: dict[str, list[Job]] = {}
        for job in runnable.values():
            by_queue.setdefault(job.job_queue_arn, []).append(job)
        queues = sorted(
            (q for q in backend.job_queues.values() if q.arn in by_queue and q.status in ("VALID", "UPDATING")),
            key=lambda q: -q.priority,
        )
        changed = False
        for queue in queues:
            for job in sorted(by_queue[queue.arn], key=lambda j: j.created_at):
                changed |= self._place(backend, queue, job, ledger, now, move)
        return changed

    def _place(
        self,
        backend: Backend,
        queue: JobQueue,
        job: Job,
        ledger: CapacityLedger,
        now: int,
        move: Callable[..., None],
    ) -> bool:
        need = params.requirements(job.container)
        environments = [
            backend.find_compute_environment(order.compute_environment_arn)
            for order in sorted(queue.compute_environment_order, key=lambda o: o.order)
        ]
        usable = [ce for ce in environments if ce and ce.state == "ENABLED" and ce.status in ("VALID", "UPDATING")]
        for environment in usable:
            if ledger.fits_now(environment, need):
                ledger.hold(environment.arn, need)
                attempt = self._new_attempt(backend, job, environment.arn, need)
                move(job, JobEvent.PLACED, now, attempt=attempt)
                lifecycle.start_attempt(backend, job, queue, environment, self.runner)
                return True
        if usable and not any(ledger.could_ever_fit(ce, need) for ce in usable):
            if job.status_reason != JOB_RESOURCE_REQUIREMENT:
                move(job, JobEvent.BLOCKED, now, reason=JOB_RESOURCE_REQUIREMENT)
                return True
        return False

    @staticmethod
    def _new_attempt(backend: Backend, job: Job, compute_environment_arn: str, need: params.Requirements) -> Attempt:
        environment = backend.find_compute_environment(compute_environment_arn)
        cluster = environment.ecs_cluster_arn if environment and environment.ecs_cluster_arn else ""
        attempt = Attempt(
            number=job.attempt_count + 1,
            compute_environment_arn=compute_environment_arn,
            vcpus=need.vcpus,
            memory=need.memory_mib,
            gpus=need.gpus,
        )
        task_id = arns.new_task_id()
        attempt.container.task_arn = arns.ecs_task_arn(backend.region, backend.account, cluster, task_id)
        attempt.container.container_instance_arn = arns.container_instance_arn(
            backend.region, backend.account, cluster
        )
        definition_name = job.job_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        attempt.container.log_stream_name = f"{definition_name[:200]}/default/{task_id}"
        return attempt

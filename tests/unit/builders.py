"""Domain objects for scheduler unit tests: a backend with one VALID compute environment and queue."""

from __future__ import annotations

from batchemu import arns
from batchemu.clock import FakeClock, to_millis
from batchemu.domain import params
from batchemu.domain.models import ComputeEnvironment, ComputeEnvironmentOrder, Job, JobQueue
from batchemu.domain.store import Backend, Store
from batchemu.runners.simulated import SimulatedRunner
from batchemu.scheduler.core import Scheduler

REGION, ACCOUNT = "us-east-1", "123456789012"


class World:
    """A store, a fake clock, the simulated runner and a scheduler, with helpers to add resources."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = Store()
        self.backend: Backend = self.store.backend(ACCOUNT, REGION)
        self.scheduler = Scheduler(self.store, SimulatedRunner(self.clock))
        self.definition_arn = arns.build(REGION, ACCOUNT, "job-definition", "work:1")

    @property
    def now_ms(self) -> int:
        return to_millis(self.clock.now())

    def compute_environment(
        self, name: str = "ce", max_vcpus: float = 4, state: str = "ENABLED"
    ) -> ComputeEnvironment:
        environment = ComputeEnvironment(
            name=name,
            arn=arns.build(REGION, ACCOUNT, "compute-environment", name),
            type="MANAGED",
            state=state,
            status="VALID",
            compute_resources={"type": "EC2", "max_vcpus": max_vcpus, "min_vcpus": 0},
            ecs_cluster_arn=arns.ecs_cluster_arn(REGION, ACCOUNT, name),
        )
        self.backend.compute_environments[name] = environment
        return environment

    def queue(self, name: str = "q", priority: int = 1, environments: tuple[str, ...] = ("ce",)) -> JobQueue:
        queue = JobQueue(
            name=name,
            arn=arns.build(REGION, ACCOUNT, "job-queue", name),
            priority=priority,
            status="VALID",
            compute_environment_order=[
                ComputeEnvironmentOrder(i + 1, self.backend.compute_environments[ce].arn)
                for i, ce in enumerate(environments)
            ],
        )
        self.backend.job_queues[name] = queue
        return queue

    def job(
        self,
        name: str = "job",
        queue: str = "q",
        vcpus: float = 1,
        env: dict[str, str] | None = None,
        **fields,
    ) -> Job:  # type: ignore[no-untyped-def]
        job_id = arns.new_id()
        container = params.resolve_container(
            {
                "image": "busybox",
                "command": ["true"],
                "resource_requirements": [
                    {"type": "VCPU", "value": str(vcpus)},
                    {"type": "MEMORY", "value": "512"},
                ],
                "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
            },
            None,
            {},
        )
        job = Job(
            id=job_id,
            arn=arns.build(REGION, ACCOUNT, "job", job_id),
            name=name,
            job_queue_arn=self.backend.job_queues[queue].arn,
            job_definition_arn=self.definition_arn,
            created_at=self.now_ms,
            status_changed_at=self.now_ms,
            history=[(self.now_ms, "SUBMITTED", None)],
            container=container,
            **fields,
        )
        self.backend.add_job(job)
        return job

    def settle(self, max_ticks: int = 1000) -> None:
        for _ in range(max_ticks):
            if not self.scheduler.tick(self.clock.now()):
                return
        raise AssertionError("scheduler never settled")

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

"""Fleets of instances on a FakeClock: a runner's own nodes, the spare list, scale-in timing."""

from __future__ import annotations

from batchemu.domain.instance_types import InstanceType
from batchemu.domain.models import ComputeEnvironment
from batchemu.domain.store import Backend
from batchemu.runners.simulated import SimulatedRunner
from batchemu.scheduler.core import Scheduler
from batchemu.scheduler.instances import SCALE_IN_IDLE_SECONDS, Instance
from tests.unit.builders import World


class NamedNodes:
    """A NodeProvider as a runner with real nodes (a swarm) could give it."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.gone: list[str] = []

    def launch(
        self, backend: Backend, environment: ComputeEnvironment, kind: InstanceType
    ) -> tuple[str, str]:
        name = f"node-{len(self.launched)}"
        self.launched.append(kind.name)
        return name, f"arn:aws:ecs:{backend.region}:{backend.account}:container-instance/{name}"

    def terminated(self, instance: Instance) -> None:
        self.gone.append(instance.instance_id)


class NodeRunner(SimulatedRunner):
    def __init__(self, clock, nodes: NamedNodes) -> None:  # type: ignore[no-untyped-def]
        super().__init__(clock)
        self.node_provider = nodes


def test_a_runner_can_provide_the_nodes_jobs_are_placed_on() -> None:
    world = World()
    nodes = NamedNodes()
    world.scheduler = Scheduler(world.store, NodeRunner(world.clock, nodes))
    world.compute_environment("ce", max_vcpus=8)
    world.queue("q")
    job = world.job(env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    assert nodes.launched == ["c4.large"]
    assert job.current_attempt is not None
    assert job.current_attempt.container.container_instance_arn.endswith("container-instance/node-0")
    world.advance(10)
    world.advance(SCALE_IN_IDLE_SECONDS - 1)
    assert nodes.gone == []
    world.advance(1)
    assert nodes.gone == ["node-0"]


def test_a_full_instance_leaves_the_spare_list_and_comes_back_when_a_job_ends() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=8)
    world.queue("q")
    first = world.job("first", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    second = world.job("second", env={"BATCHEMU_SIMULATE_SECONDS": "20"})
    world.settle()
    fleet = world.scheduler.placer.fleets.fleet(world.backend.compute_environments["ce"])
    assert len(fleet.instances) == 1  # both on one c4.large
    third = world.job("third", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    assert len(fleet.instances) == 2
    assert len(fleet.spare) == 1  # the first is full
    world.advance(10)
    assert first.status == "SUCCEEDED" and third.status == "SUCCEEDED" and second.status == "RUNNING"
    fourth = world.job("fourth", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    assert (
        fourth.current_attempt is not None
        and second.current_attempt is not None
        and fourth.current_attempt.container.container_instance_arn
        == second.current_attempt.container.container_instance_arn
    )


def test_idle_instances_make_way_for_a_larger_type_at_max_vcpus() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=4)
    world.queue("q")
    small = [world.job(f"s{i}", env={"BATCHEMU_SIMULATE_SECONDS": "10"}) for i in range(3)]
    world.settle()
    fleet = world.scheduler.placer.fleets.fleet(world.backend.compute_environments["ce"])
    assert [i.instance_type.name for i in fleet.instances.values()] == ["c4.large", "c4.large"]
    world.advance(10)
    assert all(job.status == "SUCCEEDED" for job in small)
    wide = world.job("wide", vcpus=4, env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    assert wide.status == "RUNNING"
    assert [i.instance_type.name for i in fleet.instances.values()] == ["c4.xlarge"]

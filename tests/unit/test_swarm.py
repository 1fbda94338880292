"""The swarm runner's pure parts (a ContainerSpec as a replicated-job service, task outcomes, the job
endpoint) and the scheduler hooks it uses: hosts bounding capacity, the container instance an attempt ran
on, and a lost host's status reason with its retry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchemu.runners.base import ContainerSpec, Phase, RunState
from batchemu.runners.simulated import SimulatedAttempt, SimulatedRunner
from batchemu.runners.swarm_options import UnsupportedOnSwarm, ce_constraint, service_arguments
from batchemu.runners.swarm_state import (
    HOST_TERMINATED,
    SwarmNode,
    container_instance_key,
    demultiplex,
    exit_state,
    reachable_endpoint,
    rejected_reason,
)
from batchemu.scheduler.core import Scheduler
from tests.unit.builders import World


def _spec(**fields: Any) -> ContainerSpec:
    values: dict[str, Any] = {
        "job_id": "0b6a3a2e-7c55-4b1e-9d0e-1f1d9a5f2c11:7",
        "attempt": 2,
        "image": "busybox",
        "command": ["echo", "hi"],
        "environment": {"AWS_BATCH_JOB_ID": "j", "COLOUR": "red"},
        "vcpus": 1.5,
        "memory_mib": 64,
    }
    values.update(fields)
    return ContainerSpec(**values)


def test_a_spec_becomes_a_one_shot_service_with_reservations_equal_to_limits() -> None:
    arguments = service_arguments(_spec(), "http://10.0.0.1:8000", "host")
    template = arguments["task_template"]
    container = template["ContainerSpec"]
    assert arguments["mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Resources"] == {
        "Limits": {"NanoCPUs": 1_500_000_000, "MemoryBytes": 64 * 1024 * 1024},
        "Reservations": {"NanoCPUs": 1_500_000_000, "MemoryBytes": 64 * 1024 * 1024},
    }
    assert (container["Args"], container["Command"]) == (["echo", "hi"], None)  # the ENTRYPOINT stays
    assert "COLOUR=red" in container["Env"] and "AWS_ENDPOINT_URL=http://10.0.0.1:8000" in container["Env"]
    labels = arguments["labels"]
    assert (labels["batchemu.job-id"], labels["batchemu.attempt"]) == (_spec().job_id, "2")
    assert container["Labels"] == labels
    assert template["Networks"] == [{"Target": "host"}]
    assert len(arguments["name"]) <= 63 and ":" not in arguments["name"]


def test_mounts_tmpfs_shared_memory_ulimits_and_init_are_carried_over() -> None:
    spec = _spec(
        volumes=[{"name": "data", "host": {"source_path": "/srv/data"}}, {"name": "scratch"}],
        mount_points=[
            {"source_volume": "data", "container_path": "/data", "read_only": True},
            {"source_volume": "scratch", "container_path": "/scratch"},
        ],
        linux_parameters={
            "tmpfs": [{"container_path": "/run/t", "size": 16}],
            "shared_memory_size": 128,
            "init_process_enabled": True,
        },
        ulimits=[{"name": "nofile", "soft_limit": 1024, "hard_limit": 2048}],
    )
    container = service_arguments(spec, "http://e", "host")["task_template"]["ContainerSpec"]
    mounts = {mount["Target"]: mount for mount in container["Mounts"]}
    assert (mounts["/data"]["Type"], mounts["/data"]["Source"], mounts["/data"]["ReadOnly"]) == (
        "bind",
        "/srv/data",
        True,
    )
    assert mounts["/scratch"]["Type"] == "volume"
    assert mounts["/run/t"]["TmpfsOptions"]["SizeBytes"] == 16 * 1024 * 1024
    assert mounts["/dev/shm"]["TmpfsOptions"]["SizeBytes"] == 128 * 1024 * 1024
    assert container["Init"] is True
    assert container["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]


def test_a_container_of_a_task_is_stopped_with_its_images_signal_and_its_stop_timeout() -> None:
    alone = service_arguments(_spec(), "http://e", "host")["task_template"]["ContainerSpec"]
    in_task = service_arguments(_spec(in_task=True, stop_timeout=5.0), "http://e", "host")["task_template"]
    assert (alone["StopSignal"], alone.get("StopGracePeriod")) == ("SIGKILL", None)
    assert "StopSignal" not in in_task["ContainerSpec"]  # the image's, SIGTERM unless it says otherwise
    assert in_task["ContainerSpec"]["StopGracePeriod"] == 5_000_000_000


def test_a_container_of_a_task_off_the_host_network_joins_its_tasks_network_by_its_name() -> None:
    spec = _spec(in_task=True, name="server")
    arguments = service_arguments(spec, "http://e", "jobs", task_network="net-1")
    assert arguments["task_template"]["Networks"] == [
        {"Target": "jobs"},
        {"Target": "net-1", "Aliases": ["server"]},
    ]
    assert arguments["endpoint_spec"] == {"Mode": "dnsrr"}  # the name is the container's own address
    assert "endpoint_spec" not in service_arguments(_spec(), "http://e", "jobs")


def test_after_a_graceful_stop_a_container_keeps_its_own_exit_code() -> None:
    status = {"State": "complete", "ContainerStatus": {"ContainerID": "c", "ExitCode": 0}}
    assert exit_state(status, stop_requested=True, graceful=True) == RunState(Phase.EXITED, exit_code=0)
    killed = {"State": "failed", "ContainerStatus": {"ContainerID": "c", "ExitCode": 137}}
    assert exit_state(killed, stop_requested=True, graceful=True).reason is None  # not taken for an OOM


def test_gpus_and_host_devices_are_refused_with_a_reason() -> None:
    for spec in (_spec(gpus=1), _spec(linux_parameters={"devices": [{"host_path": "/dev/fuse"}]})):
        try:
            service_arguments(spec, "http://e", "host")
        except UnsupportedOnSwarm as error:
            assert "not supported by the swarm runner" in str(error)
        else:
            raise AssertionError("accepted")


def test_a_compute_environment_runs_on_its_labelled_nodes_or_on_all() -> None:
    labelled = [{"batchemu.ce.gpu-ce": "true"}, {}]
    assert ce_constraint("gpu-ce", labelled) == ["node.labels.batchemu.ce.gpu-ce==true"]
    assert ce_constraint("other", labelled) == []


def test_task_outcomes_map_to_run_states() -> None:
    def status(exit_code: int, container: bool = True) -> dict[str, Any]:
        return {"ContainerStatus": {"ContainerID": "c" if container else "", "ExitCode": exit_code}}

    assert exit_state(status(3), stop_requested=False) == RunState(Phase.EXITED, exit_code=3)
    assert exit_state(status(137), stop_requested=False).reason.startswith("OutOfMemoryError")  # type: ignore[union-attr]
    assert exit_state(status(0), stop_requested=True) == RunState(Phase.EXITED, exit_code=137)
    assert exit_state(status(0, container=False), False).phase is Phase.FAILED_TO_START
    assert rejected_reason("No such image: x:latest") == (
        "CannotPullContainerError: Error response from daemon: No such image: x:latest"
    )
    assert rejected_reason("invalid mount").startswith("CannotStartContainerError: ")


def test_a_loopback_endpoint_becomes_the_address_toward_the_manager() -> None:
    assert reachable_endpoint("http://127.0.0.1:8000", "127.0.0.2") == "http://127.0.0.1:8000"
    assert reachable_endpoint("http://10.1.2.3:8000", "127.0.0.1") == "http://10.1.2.3:8000"
    assert reachable_endpoint("http://127.0.0.1:8000", "") == "http://127.0.0.1:8000"


def test_a_node_has_a_stable_instance_id_and_container_instance_key() -> None:
    node = SwarmNode("abc", "10.0.0.2", 2.0, 1024, {}, ready=True, active=True)
    assert node.instance_id == SwarmNode("abc", "", 0, 0, {}, ready=False, active=False).instance_id
    assert node.instance_id.startswith("i-") and len(node.instance_id) == 19
    assert len(container_instance_key("abc")) == 32 and container_instance_key(
        "abc"
    ) != container_instance_key("b")


# -- the scheduler hooks ----------------------------------------------------------------------------
@dataclass
class Host:
    vcpus: float
    memory_mib: int = 1 << 20


@dataclass
class HostedRunner(SimulatedRunner):
    """The simulated runner with hosts: capacity, the host of each attempt, and a host that can be lost."""

    hosts: list[Host] = field(default_factory=list)
    lost: set[int] = field(default_factory=set)  # attempt numbers whose host goes away

    def __init__(self, world: World, hosts: list[Host]) -> None:
        super().__init__(world.clock)
        self.hosts = hosts
        self.lost = set()

    def capacity(self, compute_environment: str) -> list[Host]:
        return self.hosts

    def container_instance_id(self, handle: SimulatedAttempt) -> str:
        return f"host-of-attempt-{handle.spec.attempt}"

    def poll(self, handle: SimulatedAttempt) -> RunState:
        if handle.spec.attempt in self.lost:
            reason = HOST_TERMINATED.format(instance="i-0123456789abcdef0")
            return RunState(Phase.EXITED, reason=reason, status_reason=reason)
        return super().poll(handle)


def _hosted_world(hosts: list[Host]) -> tuple[World, HostedRunner]:
    world = World()
    runner = HostedRunner(world, hosts)
    world.scheduler = Scheduler(world.store, runner)
    world.compute_environment("ce", max_vcpus=16)
    world.queue("q")
    return world, runner


def test_the_runners_hosts_bound_what_runs_at_once_within_max_vcpus() -> None:
    world, _ = _hosted_world([Host(2), Host(1)])
    jobs = [world.job(env={"BATCHEMU_SIMULATE_SECONDS": "10"}) for _ in range(5)]
    world.settle()
    assert [job.status for job in jobs].count("RUNNING") == 3
    world.advance(10)
    world.advance(10)
    assert {job.status for job in jobs} == {"SUCCEEDED"}


def test_an_attempt_records_the_container_instance_it_ran_on() -> None:
    world, _ = _hosted_world([Host(4)])
    job = world.job()
    world.settle()
    assert job.status == "SUCCEEDED"
    arn = job.attempts[0].container.container_instance_arn
    assert arn is not None and arn.endswith("/host-of-attempt-1") and ":container-instance/" in arn


def test_a_lost_host_fails_the_attempt_with_its_reason_and_the_job_retries() -> None:
    world, runner = _hosted_world([Host(4)])
    runner.lost = {1}
    job = world.job(retry_strategy={"attempts": 2})
    world.settle()
    assert job.status == "SUCCEEDED"
    first, second = job.attempts
    assert first.status_reason == "Host EC2 (instance i-0123456789abcdef0) terminated."
    assert first.container.container_instance_arn != second.container.container_instance_arn


def test_multiplexed_log_frames_are_joined_in_order() -> None:
    def frame(stream: int, payload: bytes) -> bytes:
        return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload

    body = frame(1, b"2026-01-01T00:00:00.1Z out\n") + frame(2, b"2026-01-01T00:00:00.2Z err\n")
    assert demultiplex(body) == b"2026-01-01T00:00:00.1Z out\n2026-01-01T00:00:00.2Z err\n"
    assert demultiplex(body + b"\x01\x00") == demultiplex(body)  # a cut-off header is dropped

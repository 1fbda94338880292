"""Multi-node parallel jobs whose node ranges are defined with ecsProperties or eksProperties (simulated
runner, fake clock): each node runs its range's task or pod as a single-node multi-container job does,
nodePropertyOverrides apply ecsPropertiesOverride / eksPropertiesOverride by name, the parent follows the
main node, and DescribeJobs shows each node's containers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator
from tests.helpers import compute_resources, container, describe, provision
from tests.service.test_eks_jobs import CLUSTER, pod_container
from tests.service.test_multi_container import containers_of, run, task_container


def task(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"taskProperties": [{"containers": list(containers)}]}


def register_mnp(batch: Any, *ranges: dict[str, Any], nodes: int = 2) -> None:
    batch.register_job_definition(
        jobDefinitionName="mnp-tasks",
        type="multinode",
        nodeProperties={"numNodes": nodes, "mainNode": 0, "nodeRangeProperties": list(ranges)},
    )


def submit(batch: Any, queue: str = "q", **extra: Any) -> str:
    job_id: str = batch.submit_job(jobName="mnp", jobQueue=queue, jobDefinition="mnp-tasks", **extra)["jobId"]
    return job_id


@pytest.fixture
def queue(batch: Any, emulator: Emulator) -> str:
    arn = provision(batch, max_vcpus=8)
    emulator.run_until_idle()
    return arn


def test_each_node_runs_its_ranges_task_and_the_parent_follows_the_main_node(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    main_task = task(task_container("main", 3), task_container("side", 100, essential=False))
    worker_task = task(task_container("worker", 100), task_container("agent", 100, essential=False))
    register_mnp(
        batch,
        {"targetNodes": "0", "ecsProperties": main_task},
        {"targetNodes": "1:", "ecsProperties": worker_task},
    )
    override = {"taskProperties": [{"containers": [{"name": "worker", "command": ["echo", "overridden"]}]}]}
    job_id = submit(
        batch,
        nodeOverrides={"nodePropertyOverrides": [{"targetNodes": "1:", "ecsPropertiesOverride": override}]},
    )
    run(emulator, 1)
    parent, main, worker = (describe(batch, f) for f in (job_id, f"{job_id}#0", f"{job_id}#1"))
    assert (parent["status"], main["status"], worker["status"]) == ("RUNNING", "RUNNING", "RUNNING")
    assert "container" not in main or not main["container"]
    assert main["nodeDetails"] == {"nodeIndex": 0, "isMainNode": True}
    assert set(containers_of(main)) == {"main", "side"} and set(containers_of(worker)) == {"worker", "agent"}
    worker_container = containers_of(worker)["worker"]
    assert worker_container["command"] == ["echo", "overridden"]
    environment = {e["name"]: e["value"] for e in containers_of(main)["side"]["environment"]}
    assert "BATCHEMU_SIMULATE_SECONDS" in environment
    [range_0, range_1] = parent["nodeProperties"]["nodeRangeProperties"]
    assert range_1["ecsProperties"]["taskProperties"][0]["containers"][0]["command"] == ["echo", "overridden"]
    assert "container" not in range_0

    run(emulator, 2)
    parent, main, worker = (describe(batch, f) for f in (job_id, f"{job_id}#0", f"{job_id}#1"))
    assert parent["status"] == "SUCCEEDED" and main["status"] == "SUCCEEDED"
    assert {n: c["exitCode"] for n, c in containers_of(main).items()} == {"main": 0, "side": 137}
    [attempt] = main["attempts"]
    assert [c["name"] for c in attempt["taskProperties"][0]["containers"]] == ["main", "side"]
    assert worker["status"] == "FAILED" and worker["statusReason"] == "Main node exited"
    assert all(c.get("logStreamName") for c in containers_of(worker).values())


def test_a_failing_essential_container_of_the_main_node_fails_the_job(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    failing = task(task_container("main", 1, exit_code=5), task_container("side", 100, essential=False))
    register_mnp(batch, {"targetNodes": "0:1", "ecsProperties": failing})
    job_id = submit(batch)
    run(emulator, 1)
    parent, main = describe(batch, job_id), describe(batch, f"{job_id}#0")
    assert (parent["status"], main["status"]) == ("FAILED", "FAILED")
    assert main["statusReason"] == "Essential container in task exited"
    assert containers_of(main)["main"]["exitCode"] == 5


def test_a_node_task_holds_the_sum_of_its_containers(batch: Any, emulator: Emulator, queue: str) -> None:
    big = task(task_container("a", 100, vcpus=3), task_container("b", 100, vcpus=3, essential=False))
    register_mnp(batch, {"targetNodes": "0:1", "ecsProperties": big})
    job_id = submit(batch)
    run(emulator, 1)
    # 8 vCPUs hold one node of 6: the main node runs, the other waits for room
    assert [describe(batch, f"{job_id}#{i}")["status"] for i in (0, 1)] == ["RUNNING", "RUNNABLE"]


def test_a_range_with_two_bodies_or_a_bad_dependency_is_refused(batch: Any) -> None:
    body = task(task_container("main", 1))
    with pytest.raises(ClientError) as both:
        register_mnp(batch, {"targetNodes": "0:1", "ecsProperties": body, "container": container(["echo"])})
    assert both.value.response["Error"]["Code"] == "ClientException"
    assert "only one of container, ecsProperties or eksProperties" in both.value.response["Error"]["Message"]
    essential_dependency = task(
        task_container("setup", 1),
        task_container("main", 1, dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}]),
    )
    with pytest.raises(ClientError) as dependency:
        register_mnp(batch, {"targetNodes": "0:1", "ecsProperties": essential_dependency})
    assert "cannot be an essential container" in dependency.value.response["Error"]["Message"]


def test_each_node_of_an_eks_range_runs_its_pod(batch: Any, emulator: Emulator) -> None:
    batch.create_compute_environment(
        computeEnvironmentName="eks-ce",
        type="MANAGED",
        eksConfiguration={"eksClusterArn": CLUSTER, "kubernetesNamespace": "batch"},
        computeResources=compute_resources(8),
    )
    batch.create_job_queue(
        jobQueueName="eks-q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "eks-ce"}],
    )
    emulator.run_until_idle()
    pod = {"initContainers": [pod_container("fetch", 1)], "containers": [pod_container("main", 2)]}
    register_mnp(batch, {"targetNodes": "0:1", "eksProperties": {"podProperties": pod}})
    override = {"podProperties": {"containers": [{"name": "main", "args": ["overridden"]}]}}
    job_id = submit(
        batch,
        queue="eks-q",
        nodeOverrides={"nodePropertyOverrides": [{"targetNodes": "0:1", "eksPropertiesOverride": override}]},
    )
    run(emulator, 1)
    assert describe(batch, f"{job_id}#0")["status"] == "RUNNING"
    run(emulator, 2)
    run(emulator, 3)
    parent, main = describe(batch, job_id), describe(batch, f"{job_id}#0")
    assert (parent["status"], main["status"]) == ("SUCCEEDED", "SUCCEEDED")
    node_pod = main["eksProperties"]["podProperties"]
    assert [(c["name"], c["exitCode"]) for c in node_pod["initContainers"]] == [("fetch", 0)]
    assert [(c["name"], c["exitCode"]) for c in node_pod["containers"]] == [("main", 0)]
    assert node_pod["containers"][0]["args"] == ["overridden"]
    assert node_pod["podName"].startswith("aws-batch.")


def test_a_whole_job_retry_runs_each_nodes_task_again(batch: Any, emulator: Emulator, queue: str) -> None:
    failing = task(task_container("main", 1, exit_code=5), task_container("side", 100, essential=False))
    batch.register_job_definition(
        jobDefinitionName="mnp-tasks",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [{"targetNodes": "0:1", "ecsProperties": failing}],
        },
        retryStrategy={"attempts": 2},
    )
    job_id = submit(batch)
    for _ in range(4):
        run(emulator, 1)
    parent, main = describe(batch, job_id), describe(batch, f"{job_id}#0")
    assert (parent["status"], main["status"]) == ("FAILED", "FAILED")
    assert [
        [(c["name"], c.get("exitCode")) for c in attempt["taskProperties"][0]["containers"]]
        for attempt in main["attempts"]
    ] == [[("main", 5), ("side", 137)]] * 2

"""eksProperties jobs on an EKS compute environment through boto3 (simulated runner, fake clock): the pod's
init containers run in order before its containers, the pod ends once every container has, a failing
init container fails the job without starting the others, eksPropertiesOverride applies by name, and
DescribeJobs shows the pod (podName, nodeName, each container's exit code) and eksAttempts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator
from tests.helpers import compute_resources, describe

CLUSTER = "arn:aws:eks:us-east-1:123456789012:cluster/jobs"


def pod_container(
    name: str, seconds: float, exit_code: int = 0, cpu: str = "1", memory: str = "512Mi"
) -> dict[str, Any]:
    """A container the simulated runner runs for `seconds` and ends with `exit_code`."""
    return {
        "name": name,
        "image": "busybox",
        "command": ["echo"],
        "args": [name],
        "resources": {"limits": {"cpu": cpu, "memory": memory}},
        "env": [
            {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
            {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)},
        ],
    }


@pytest.fixture
def queue(batch: Any, emulator: Emulator) -> str:
    batch.create_compute_environment(
        computeEnvironmentName="eks-ce",
        type="MANAGED",
        eksConfiguration={"eksClusterArn": CLUSTER, "kubernetesNamespace": "batch"},
        computeResources=compute_resources(8),
    )
    arn: str = batch.create_job_queue(
        jobQueueName="eks-q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "eks-ce"}],
    )["jobQueueArn"]
    emulator.run_until_idle()
    return arn


def register(batch: Any, containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None) -> None:
    pod: dict[str, Any] = {"containers": containers}
    if init:
        pod["initContainers"] = init
    batch.register_job_definition(
        jobDefinitionName="pod", type="container", eksProperties={"podProperties": pod}
    )


def submit(batch: Any, **extra: Any) -> str:
    job_id: str = batch.submit_job(jobName="job", jobQueue="eks-q", jobDefinition="pod", **extra)["jobId"]
    return job_id


def run(emulator: Emulator, seconds: float) -> None:
    emulator.run_until_idle()
    emulator.advance(seconds)
    emulator.run_until_idle()


def exit_codes(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {container["name"]: container.get("exitCode") for container in containers}


def test_init_containers_run_in_order_then_the_containers_and_the_pod_ends_with_the_last(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(
        batch,
        [pod_container("main", 2), pod_container("side", 3)],
        init=[pod_container("fetch", 1), pod_container("unpack", 1)],
    )
    job_id = submit(batch)
    for _ in range(4):
        run(emulator, 1)
        assert describe(batch, job_id)["status"] == "RUNNING"
    run(emulator, 1)
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["stoppedAt"] - job["startedAt"] == 5000  # 1 + 1 in turn, then max(2, 3)
    assert "container" not in job or not job["container"]
    pod = job["eksProperties"]["podProperties"]
    assert exit_codes(pod["initContainers"]) == {"fetch": 0, "unpack": 0}
    assert exit_codes(pod["containers"]) == {"main": 0, "side": 0}
    assert pod["podName"].startswith("aws-batch.") and pod["nodeName"].endswith(".compute.internal")
    [attempt] = job["eksAttempts"]
    assert (attempt["podName"], attempt["nodeName"]) == (pod["podName"], pod["nodeName"])
    assert attempt["eksClusterArn"] == CLUSTER and attempt["podNamespace"] == "batch"
    assert exit_codes(attempt["containers"]) == {"main": 0, "side": 0}
    assert exit_codes(attempt["initContainers"]) == {"fetch": 0, "unpack": 0}
    assert job["attempts"] == []


def test_a_failing_init_container_fails_the_job_and_nothing_after_it_starts(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(
        batch,
        [pod_container("main", 2)],
        init=[pod_container("fetch", 1, exit_code=3), pod_container("unpack", 1)],
    )
    job_id = submit(batch)
    run(emulator, 1)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    pod = job["eksProperties"]["podProperties"]
    assert exit_codes(pod["initContainers"]) == {"fetch": 3, "unpack": None}
    assert exit_codes(pod["containers"]) == {"main": None}
    assert job["eksAttempts"][0]["initContainers"][0]["exitCode"] == 3


def test_a_failing_container_fails_the_pod_once_every_container_has_ended(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(batch, [pod_container("main", 1, exit_code=4), pod_container("side", 3)])
    job_id = submit(batch)
    run(emulator, 1)
    assert describe(batch, job_id)["status"] == "RUNNING"  # a pod does not stop its other containers
    run(emulator, 2)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert exit_codes(job["eksProperties"]["podProperties"]["containers"]) == {"main": 4, "side": 0}


def test_an_override_by_name_changes_one_containers_env_and_args(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(batch, [pod_container("main", 1), pod_container("side", 1)])
    override = {
        "name": "side",
        "args": ["changed"],
        "env": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "6"}],
    }
    job_id = submit(batch, eksPropertiesOverride={"podProperties": {"containers": [override]}})
    run(emulator, 1)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    containers = {c["name"]: c for c in job["eksProperties"]["podProperties"]["containers"]}
    assert containers["side"]["args"] == ["changed"] and containers["side"]["exitCode"] == 6
    assert containers["main"]["args"] == ["main"] and containers["main"]["exitCode"] == 0


def test_an_override_naming_no_container_is_refused(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, [pod_container("main", 1)])
    with pytest.raises(ClientError) as raised:
        submit(
            batch, eksPropertiesOverride={"podProperties": {"containers": [{"name": "nope", "args": ["x"]}]}}
        )
    assert raised.value.response["Error"]["Code"] == "ClientException"


def test_a_pod_holds_what_kubernetes_asks_of_its_node(batch: Any, emulator: Emulator, queue: str) -> None:
    """The larger of its largest init container and the sum of its containers: here 3 vCPUs of 8."""
    register(
        batch,
        [pod_container("main", 5, cpu="2"), pod_container("side", 5, cpu="1000m")],
        init=[pod_container("fetch", 0, cpu="2")],
    )
    first, second, third = submit(batch), submit(batch), submit(batch)
    emulator.run_until_idle()
    statuses = [describe(batch, job_id)["status"] for job_id in (first, second, third)]
    assert statuses == ["RUNNING", "RUNNING", "RUNNABLE"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"containerOverrides": {"command": ["echo", "hi"]}},
        {"nodeOverrides": {"numNodes": 2}},
    ],
)
def test_container_or_node_overrides_on_an_eks_job_are_refused_as_aws_does(
    batch: Any, queue: str, overrides: dict[str, Any]
) -> None:
    register(batch, [pod_container("main", 1)])
    with pytest.raises(ClientError) as raised:
        submit(batch, **overrides)
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ClientException"
    assert error["Message"] == "Container overrides or node overrides should not be set for Batch on EKS jobs."
    assert batch.list_jobs(jobQueue="eks-q", jobStatus="SUBMITTED")["jobSummaryList"] == []


def test_an_empty_container_overrides_object_on_an_eks_job_is_accepted(batch: Any, queue: str) -> None:
    register(batch, [pod_container("main", 1)])
    assert submit(batch, containerOverrides={})

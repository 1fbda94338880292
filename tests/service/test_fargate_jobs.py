"""Fargate jobs through boto3: SubmitJob checks the vCPU/memory combination after containerOverrides, and
refuses the deprecated vcpus/memory overrides (docs/compatibility.md)."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu import Emulator
from tests.helpers import ACCOUNT, describe, provision

FARGATE_RESOURCES = {"type": "FARGATE", "maxvCpus": 32, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}


def requirements(vcpu: str, memory: str) -> list[dict[str, str]]:
    return [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]


@pytest.fixture
def queue(batch: Any, emulator: Emulator) -> str:
    """A Fargate queue and a Fargate job definition `fg` asking for 1 vCPU and 2048 MiB."""
    batch.create_compute_environment(
        computeEnvironmentName="fargate", type="MANAGED", computeResources=FARGATE_RESOURCES
    )
    batch.create_job_queue(
        jobQueueName="fq", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fargate"}]
    )
    batch.register_job_definition(
        jobDefinitionName="fg",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "busybox",
            "command": ["true"],
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
            "resourceRequirements": requirements("1", "2048"),
        },
    )
    emulator.run_until_idle()
    return "fq"


def submit(batch: Any, overrides: dict[str, Any] | None = None, **fields: Any) -> str:
    if overrides is not None:
        fields["containerOverrides"] = overrides
    job_id: str = batch.submit_job(jobName="job", jobQueue="fq", jobDefinition="fg", **fields)["jobId"]
    return job_id


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=f"operation: {message}$")


def test_memory_override_outside_the_combinations_is_refused(batch: Any, queue: str) -> None:
    # The definition's 1 vCPU with the overridden 4000 MiB: AWS's answer in Netflix/metaflow#749.
    with refused(batch, r"Fargate resource requirements \(1\.00 vCPU, 4000 MiB\) not valid\."):
        submit(batch, {"resourceRequirements": [{"type": "MEMORY", "value": "4000"}]})


def test_vcpu_override_is_checked_with_the_definitions_memory(batch: Any, queue: str) -> None:
    with refused(batch, r"Fargate resource requirements \(8\.00 vCPU, 2048 MiB\) not valid\."):
        submit(batch, {"resourceRequirements": [{"type": "VCPU", "value": "8"}]})


def test_both_overridden_are_checked_together(batch: Any, queue: str) -> None:
    with refused(batch, r"Fargate resource requirements \(0\.25 vCPU, 4096 MiB\) not valid\."):
        submit(batch, {"resourceRequirements": requirements("0.25", "4096")})


@pytest.mark.parametrize(
    ("vcpu", "memory"), [("0.25", "512"), ("1", "2048"), ("4", "30720"), ("16", "122880"), ("0.5", "1024")]
)
def test_valid_combinations_are_accepted_and_used(
    batch: Any, emulator: Emulator, queue: str, vcpu: str, memory: str
) -> None:
    job_id = submit(batch, {"resourceRequirements": requirements(vcpu, memory)})
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]} == {
        "VCPU": vcpu,
        "MEMORY": memory,
    }


def test_a_memory_override_that_fits_the_definitions_vcpu_is_accepted(batch: Any, queue: str) -> None:
    job = describe(batch, submit(batch, {"resourceRequirements": [{"type": "MEMORY", "value": "8192"}]}))
    assert {"type": "MEMORY", "value": "8192"} in job["container"]["resourceRequirements"]


def test_overrides_without_resources_are_not_checked(batch: Any, queue: str) -> None:
    assert submit(batch, {"command": ["echo", "hi"]})


def test_deprecated_vcpus_override_is_refused(batch: Any, queue: str) -> None:
    # AWS's answer in insitro/redun PR #95.
    with refused(batch, r"vcpus is not applicable for Fargate\. Use resource requirements instead\."):
        submit(batch, {"vcpus": 1})


def test_deprecated_memory_override_is_refused(batch: Any, queue: str) -> None:
    with refused(batch, r"memory is not applicable for Fargate\. Use resource requirements instead\."):
        submit(batch, {"memory": 2048})


def test_a_value_that_is_no_number_is_refused(batch: Any, queue: str) -> None:
    with refused(
        batch,
        r"Value lots for type MEMORY in resourceRequirement is not valid\. Please provide a numeric value\.",
    ):
        submit(batch, {"resourceRequirements": [{"type": "MEMORY", "value": "lots"}]})


def test_an_array_job_is_checked_once_at_submit(batch: Any, emulator: Emulator, queue: str) -> None:
    with refused(batch, r"Fargate resource requirements \(1\.00 vCPU, 4000 MiB\) not valid\."):
        submit(
            batch,
            {"resourceRequirements": [{"type": "MEMORY", "value": "4000"}]},
            arrayProperties={"size": 3},
        )
    job_id = submit(
        batch, {"resourceRequirements": [{"type": "MEMORY", "value": "4096"}]}, arrayProperties={"size": 3}
    )
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "SUCCEEDED"
    children = batch.list_jobs(arrayJobId=job_id, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert len(children) == 3


def test_ec2_jobs_keep_the_deprecated_key_message(batch: Any) -> None:
    properties = {"image": "busybox", "resourceRequirements": requirements("1", "4000")}
    provision(batch, definition="ec2", properties=properties)
    with pytest.raises(batch.exceptions.ClientException, match="deprecated key"):
        batch.submit_job(jobName="j", jobQueue="q", jobDefinition="ec2", containerOverrides={"vcpus": 2})
    # No Fargate combination applies to an EC2 job: 3 vCPUs and 4000 MiB are accepted.
    overrides = {"resourceRequirements": requirements("3", "4000")}
    batch.submit_job(jobName="j", jobQueue="q", jobDefinition="ec2", containerOverrides=overrides)

"""Setup shared by the test suite: boto3 clients for a served emulator, the usual compute resources and
container properties, a compute environment + job queue (+ job definition) in one call, and polling a job's
status with a real-time deadline. Plain functions and constants; fixtures live in the conftest.py files."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from batchemu.service.extras import settle_extras

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENDED = ("SUCCEEDED", "FAILED")


def make_client(
    endpoint: str,
    region: str = REGION,
    access_key: str = "testing",
    service: str = "batch",
    secret_key: str = "testing",
) -> Any:
    """A boto3 client for `service` on `endpoint`, with dummy credentials (the access key picks the account)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )


def compute_resources(max_vcpus: int = 4) -> dict[str, Any]:
    """The computeResources of a MANAGED EC2 compute environment with up to `max_vcpus` vCPUs."""
    return {
        "type": "EC2",
        "minvCpus": 0,
        "maxvCpus": max_vcpus,
        "instanceTypes": ["optimal"],
        "subnets": ["subnet-1"],
        "securityGroupIds": ["sg-1"],
        "instanceRole": "ecsInstanceRole",
    }


COMPUTE_RESOURCES = compute_resources(4)


def container(
    command: list[str], vcpus: int = 1, memory: int = 512, image: str = "busybox", **extra: Any
) -> dict[str, Any]:
    """containerProperties asking for `vcpus` and `memory` MiB; `extra` adds fields (environment, ...)."""
    return {
        "image": image,
        "command": command,
        "resourceRequirements": [
            {"type": "VCPU", "value": str(vcpus)},
            {"type": "MEMORY", "value": str(memory)},
        ],
        **extra,
    }


CONTAINER = container(["echo", "Ref::greeting"])


def provision(
    batch: Any,
    ce: str = "ce",
    queue: str = "q",
    max_vcpus: int = 4,
    definition: str | None = None,
    properties: dict[str, Any] | None = None,
    **definition_fields: Any,
) -> str:
    """Creates a MANAGED EC2 compute environment `ce` and a job queue `queue` on it, and registers a
    container job definition `definition` (with `properties`, CONTAINER by default) when one is named.
    Returns the queue's ARN."""
    batch.create_compute_environment(
        computeEnvironmentName=ce, type="MANAGED", computeResources=compute_resources(max_vcpus)
    )
    arn: str = batch.create_job_queue(
        jobQueueName=queue, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}]
    )["jobQueueArn"]
    if definition is not None:
        batch.register_job_definition(
            jobDefinitionName=definition,
            type="container",
            containerProperties=CONTAINER if properties is None else properties,
            **definition_fields,
        )
    return arn


def describe(batch: Any, job_id: str) -> dict[str, Any]:
    return batch.describe_jobs(jobs=[job_id])["jobs"][0]


def wait_for_status(
    batch: Any, job_id: str, statuses: tuple[str, ...] = ENDED, seconds: float = 30, interval: float = 0.1
) -> dict[str, Any]:
    """Polls DescribeJobs on the real clock until the job reaches one of `statuses`; fails the test after
    `seconds`. For servers whose scheduler runs on its own (no FakeClock to step)."""
    give_up = time.monotonic() + seconds
    job = describe(batch, job_id)
    while job["status"] not in statuses:
        assert time.monotonic() < give_up, f"{job_id} still {job['status']} after {seconds}s"
        time.sleep(interval)
        job = describe(batch, job_id)
    return job


def log_messages(emulator: Any, logs: Any, job: dict[str, Any]) -> list[str]:
    """The job's lines in CloudWatch Logs (through the `logs` client), read as clients do: right after
    DescribeJobs showed the job finished, without waiting for anything (batchemu ships an attempt's
    last lines before its status changes)."""
    events = logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"], startFromHead=True
    )["events"]
    return [event["message"] for event in events]


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """The error code and message of a ClientError caught with pytest.raises."""
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def settle(emulator: Any) -> None:
    """Tick until idle, extras included (in case the scheduler tick does not call settle_extras)."""
    emulator.run_until_idle()
    with emulator.store.lock:
        for backend in emulator.store.backends():
            settle_extras(backend, emulator.clock.now())


def sagemaker_queue(
    batch: Any,
    emulator: Any,
    name: str = "sagemaker",
    policy: dict[str, Any] | None = None,
    capacity_unit: str = "NUM_INSTANCES",
) -> str:
    """A VALID SAGEMAKER_TRAINING queue on a VALID service environment, with an optional scheduling policy."""
    environment = batch.create_service_environment(
        serviceEnvironmentName=f"{name}-env",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 10, "capacityUnit": capacity_unit}],
    )
    settle(emulator)
    extra = {}
    if policy is not None:
        extra["schedulingPolicyArn"] = batch.create_scheduling_policy(name=f"{name}-policy", **policy)["arn"]
    batch.create_job_queue(
        jobQueueName=name,
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": environment["serviceEnvironmentArn"]}],
        **extra,
    )
    settle(emulator)
    return name

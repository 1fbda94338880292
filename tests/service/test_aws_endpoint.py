"""--aws-endpoint: non-Batch requests and batchemu's own writes go to another AWS emulator (here, a second
batchemu standing in for a moto server or LocalStack)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings


def client(endpoint: str, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="x",
    )


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerThread, ServerThread]]:
    with ServerThread(Emulator(Settings(runner="simulated"), clock=FakeClock())) as other:
        settings = Settings(runner="simulated", aws_endpoint=other.endpoint)
        with ServerThread(Emulator(settings, clock=FakeClock())) as batchemu:
            yield batchemu, other


def test_other_services_are_forwarded(pair: tuple[ServerThread, ServerThread]) -> None:
    batchemu, other = pair
    client(batchemu.endpoint, "s3").create_bucket(Bucket="forwarded-bucket")
    names = [b["Name"] for b in client(other.endpoint, "s3").list_buckets()["Buckets"]]
    assert "forwarded-bucket" in names


def test_job_logs_and_ecs_clusters_are_written_there(pair: tuple[ServerThread, ServerThread]) -> None:
    batchemu, other = pair
    batch = client(batchemu.endpoint, "batch")
    ce = batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=2)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={"image": "busybox", "command": ["echo", "x"], "vcpus": 1, "memory": 64},
    )
    batchemu.emulator.run_until_idle()
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    batchemu.emulator.run_until_idle()
    batchemu.emulator.flush()
    stream = batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
    events = client(other.endpoint, "logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream
    )
    assert [e["message"] for e in events["events"]] == ["simulated: echo x"]
    cluster = batch.describe_compute_environments(computeEnvironments=[ce["computeEnvironmentArn"]])[
        "computeEnvironments"
    ][0]["ecsClusterArn"].rsplit("/", 1)[-1]
    assert (
        client(other.endpoint, "ecs").describe_clusters(clusters=[cluster])["clusters"][0]["status"]
        == "ACTIVE"
    )


def test_health_names_the_endpoint(pair: tuple[ServerThread, ServerThread]) -> None:
    batchemu, other = pair
    app = batchemu.server.app  # type: ignore[attr-defined]
    assert app.batch.health()["services"] == {"batch": "batchemu", "*": f"proxy to {other.endpoint}"}

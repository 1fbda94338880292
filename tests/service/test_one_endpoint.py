"""One endpoint for all services: other AWS services answer through moto, job output lands in CloudWatch
Logs, and every compute environment gets its ECS cluster."""

from __future__ import annotations

import json
import urllib.request

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, make_client, provision


def aws(server: ServerThread, service: str):  # type: ignore[no-untyped-def]
    return make_client(server.endpoint, access_key=ACCOUNT, service=service)


@pytest.fixture
def queue(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    provision(batch)
    emulator.run_until_idle()
    return "q"


def test_s3_is_served_on_the_same_endpoint(server: ServerThread, emulator: Emulator) -> None:
    s3 = aws(server, "s3")
    s3.create_bucket(Bucket="batchemu-edge-test")
    s3.put_object(Bucket="batchemu-edge-test", Key="k", Body=b"payload")
    assert s3.get_object(Bucket="batchemu-edge-test", Key="k")["Body"].read() == b"payload"


def test_health_lists_the_services_served(server: ServerThread) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_batchemu/health") as response:
        services = json.load(response)["services"]
    assert services["batch"] == "batchemu"
    assert services["s3"] == services["logs"] == services["dynamodb"] == "moto"


def test_job_output_is_readable_from_cloudwatch_logs(
    server: ServerThread, batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    batch.register_job_definition(
        jobDefinitionName="echo",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["echo", "hello"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )
    job_id = batch.submit_job(jobName="echo", jobQueue=queue, jobDefinition="echo")["jobId"]
    emulator.run_until_idle()
    emulator.flush()
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    stream = job["container"]["logStreamName"]
    assert stream == job["attempts"][0]["container"]["logStreamName"]
    events = aws(server, "logs").get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
    assert [event["message"] for event in events] == ["simulated: echo hello"]


def test_awslogs_options_choose_group_and_stream_prefix(
    server: ServerThread, batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    batch.register_job_definition(
        jobDefinitionName="custom-logs",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["echo", "x"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/custom/group", "awslogs-stream-prefix": "app"},
            },
        },
    )
    job_id = batch.submit_job(jobName="x", jobQueue=queue, jobDefinition="custom-logs")["jobId"]
    emulator.run_until_idle()
    emulator.flush()
    stream = batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
    assert stream.startswith("app/default/")
    events = aws(server, "logs").get_log_events(logGroupName="/custom/group", logStreamName=stream)["events"]
    assert len(events) == 1


def test_each_compute_environment_has_its_ecs_cluster_by_the_time_it_is_valid(
    server: ServerThread, batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    [environment] = batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"]
    assert environment["status"] == "VALID"
    cluster_arn = environment["ecsClusterArn"]
    clusters = aws(server, "ecs").describe_clusters(clusters=[cluster_arn.rsplit("/", 1)[-1]])["clusters"]
    assert [cluster["status"] for cluster in clusters] == ["ACTIVE"]

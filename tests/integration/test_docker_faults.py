"""Docker faults: the engine going away (health says so, jobs wait with a reason, scheduling resumes) and a
job's container removed from outside (the attempt fails with a clear reason and is retried)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import boto3
import docker
import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

pytestmark = pytest.mark.docker
BUSYBOX = "batchemu-test/busybox:latest"


@pytest.fixture(scope="module")
def served(docker_engine: None) -> Iterator[ServerThread]:
    with ServerThread(Emulator(Settings(runner="docker"))) as server:
        batch = client(server)
        batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=8)
        batch.create_job_queue(
            jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
        )
        batch.register_job_definition(
            jobDefinitionName="sleeper",
            type="container",
            containerProperties={"image": BUSYBOX, "command": ["sleep", "30"], "vcpus": 1, "memory": 64},
        )
        yield server


def client(server: ServerThread):  # type: ignore[no-untyped-def]
    return boto3.client(
        "batch",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="x",
    )


def wait_for(check, seconds: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def health(server: ServerThread) -> dict:
    with urllib.request.urlopen(f"{server.endpoint}/_batchemu/health") as response:
        return json.load(response)


def test_engine_loss_holds_jobs_with_a_reason_and_they_start_when_it_returns(served: ServerThread) -> None:
    runner = getattr(served.emulator.runner, "inner", served.emulator.runner)  # under the task wrapper
    working = runner._health_client  # type: ignore[attr-defined]
    runner._health_client = docker.DockerClient(  # type: ignore[attr-defined]
        base_url="unix:///nonexistent/docker.sock", version="1.41", timeout=1
    )
    try:
        wait_for(lambda: health(served)["runner_status"] != "available")
        batch = client(served)
        job_id = batch.submit_job(
            jobName="held", jobQueue="q", jobDefinition="sleeper", containerOverrides={"command": ["true"]}
        )["jobId"]
        job = wait_for(lambda: (j := batch.describe_jobs(jobs=[job_id])["jobs"][0]).get("statusReason") and j)
        assert job["status"] == "RUNNABLE"
        assert job["statusReason"].startswith(
            "UNDETERMINED:RUNNER_UNAVAILABLE - the Docker engine does not answer"
        )
    finally:
        runner._health_client = working  # type: ignore[attr-defined]
    wait_for(lambda: health(served)["runner_status"] == "available")
    done = wait_for(
        lambda: (j := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] == "SUCCEEDED" and j
    )
    assert done["container"]["exitCode"] == 0


def test_a_container_removed_from_outside_fails_the_attempt_and_is_retried(served: ServerThread) -> None:
    batch = client(served)
    job_id = batch.submit_job(
        jobName="victim", jobQueue="q", jobDefinition="sleeper", retryStrategy={"attempts": 2}
    )["jobId"]
    wait_for(lambda: batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING")
    engine = docker.from_env()
    containers = wait_for(lambda: engine.containers.list(filters={"label": f"batchemu.job-id={job_id}"}))
    containers[0].remove(force=True)
    retried = wait_for(lambda: (j := batch.describe_jobs(jobs=[job_id])["jobs"][0])["attempts"] and j)
    assert retried["attempts"][0]["container"]["reason"].startswith("CannotInspectContainerError")
    assert retried["status"] in ("RUNNABLE", "STARTING", "RUNNING")
    batch.terminate_job(jobId=job_id, reason="done with the test")
    final = wait_for(lambda: (j := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] == "FAILED" and j)
    assert final["statusReason"] == "done with the test"

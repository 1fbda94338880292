"""`batchemu serve --state-dir` killed with SIGKILL and started again: nothing is lost, nothing runs
twice; a container still running is re-attached, lost work fails as a host termination and is retried."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers import ACCOUNT, container, make_client
from tests.service import test_moto_persistence as moto_services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, state_dir: Path, runner: str) -> None:
        self.state_dir, self.runner, self.port = state_dir, runner, free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batchemu",
                "serve",
                "--port",
                str(self.port),
                "--runner",
                self.runner,
                "--state-dir",
                str(self.state_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        assert "ready on" in self.process.stdout.readline()

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def client(self, service: str = "batch"):  # type: ignore[no-untyped-def]
        return make_client(self.endpoint, access_key=ACCOUNT, service=service, secret_key="x")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[[str], Served]]:
    made: list[Served] = []

    def make(runner: str) -> Served:
        made.append(Served(tmp_path, runner))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def wait_status(batch, job_id: str, wanted: set[str], seconds: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if jobs and jobs[0]["status"] in wanted:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {wanted}")


def restart_after_kill_9(first: Served, served: Callable[[str], Served], runner: str) -> Served:
    first.kill9()
    second = served(runner)
    second.port = first.port
    second.start()
    return second


def read_until(server: Served, stream: str, last: str, seconds: float = 20) -> list[str]:
    """The messages of a job's log stream once `last` is among them (or when `seconds` have passed)."""
    logs = server.client("logs")
    deadline = time.monotonic() + seconds
    messages: list[str] = []
    while time.monotonic() < deadline and last not in messages:
        try:
            answer = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
            messages = [event["message"] for event in answer["events"]]
        except logs.exceptions.ResourceNotFoundException:
            pass  # the re-attached attempt's first lines are still on their way
        time.sleep(0.2)
    return messages


def provision(batch, image: str, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    helpers.provision(batch, definition="jd", properties=container(command, memory=64, image=image))
    time.sleep(0.3)


def test_kill_9_keeps_every_job_and_retries_lost_work(served: Callable[[str], Served]) -> None:
    first = served("simulated")
    first.start()
    batch = first.client()
    provision(batch, "busybox", ["true"])
    done = batch.submit_job(jobName="done", jobQueue="q", jobDefinition="jd")["jobId"]
    finished = wait_status(batch, done, {"SUCCEEDED"})
    long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "1000"}]}
    running = batch.submit_job(
        jobName="long",
        jobQueue="q",
        jobDefinition="jd",
        containerOverrides=long,
        retryStrategy={"attempts": 2},
    )["jobId"]
    wait_status(batch, running, {"RUNNING"})
    first.kill9()

    second = served("simulated")
    second.port = first.port
    second.start()
    batch = second.client()
    assert batch.describe_jobs(jobs=[done])["jobs"][0] == finished
    retried = wait_status(batch, running, {"RUNNING"})
    assert [a["statusReason"].startswith("Host EC2 (instance i-") for a in retried["attempts"]] == [True]
    listed = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"]
    assert [job["jobId"] for job in listed] == [done]


def test_kill_9_keeps_what_every_service_held_beside_the_batch_state(served: Callable[[str], Served]) -> None:
    first = served("simulated")
    first.start()
    batch = first.client()
    provision(batch, "busybox", ["true"])
    done = batch.submit_job(jobName="done", jobQueue="q", jobDefinition="jd")["jobId"]
    finished = wait_status(batch, done, {"SUCCEEDED"})
    made = moto_services.populate(first.endpoint)  # its last call returned: everything is on disk
    first.kill9()

    second = served("simulated")
    second.port = first.port
    second.start()
    moto_services.check(second.endpoint, made)
    assert second.client().describe_jobs(jobs=[done])["jobs"][0] == finished


def test_kill_9_in_a_burst_of_writes_loses_at_most_the_call_in_flight(
    served: Callable[[str], Served],
) -> None:
    first = served("simulated")
    first.start()
    s3, ddb = first.client("s3"), first.client("dynamodb")
    s3.create_bucket(Bucket="burst")
    ddb.create_table(
        TableName="burst",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    answered: list[int] = []
    sent: list[int] = []

    def burst() -> None:  # S3 and DynamoDB writes in turn, each sent when the one before was answered
        for number in range(100_000):
            sent.append(number)
            try:
                if number % 2:
                    ddb.put_item(TableName="burst", Item={"id": {"S": f"{number}"}, "v": {"S": "x" * 200}})
                else:
                    s3.put_object(Bucket="burst", Key=f"{number}", Body=f"body {number}".encode())
            except Exception:
                return
            answered.append(number)

    writer = threading.Thread(target=burst)
    writer.start()
    deadline = time.monotonic() + 60
    while len(answered) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.kill9()
    writer.join(timeout=60)
    assert len(answered) >= 400

    second = served("simulated")
    second.port = first.port
    second.start()
    s3, ddb = second.client("s3"), second.client("dynamodb")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="burst")
    objects = {int(item["Key"]) for page in pages for item in page.get("Contents", [])}
    items = {
        int(item["id"]["S"])
        for page in ddb.get_paginator("scan").paginate(TableName="burst")
        for item in page["Items"]
    }
    kept = objects | items
    assert set(answered) <= kept  # every write that was answered is there
    assert kept - set(answered) <= {sent[-1]}  # and at most the one in flight besides
    last = max(number for number in answered if number % 2 == 0)
    assert s3.get_object(Bucket="burst", Key=f"{last}")["Body"].read() == f"body {last}".encode()


@pytest.mark.docker
def test_a_container_still_running_is_reattached_after_kill_9(
    docker_engine: None, served: Callable[[str], Served]
) -> None:
    first = served("docker")
    first.start()
    batch = first.client()
    provision(batch, "batchemu-test/busybox:latest", ["sh", "-c", "echo started; sleep 4; echo finished"])
    job_id = batch.submit_job(jobName="survivor", jobQueue="q", jobDefinition="jd")["jobId"]
    wait_status(batch, job_id, {"RUNNING"})
    second = restart_after_kill_9(first, served, "docker")
    batch = second.client()
    job = wait_status(batch, job_id, {"SUCCEEDED", "FAILED"}, seconds=60)
    assert (job["status"], job["container"]["exitCode"], len(job["attempts"])) == ("SUCCEEDED", 0, 1)
    messages = read_until(second, job["container"]["logStreamName"], "finished")
    assert "finished" in messages
    assert messages == ["started", "finished"]  # one container, read from its start after re-attaching


def task_container(name: str, command: str, essential: bool = True) -> dict:  # type: ignore[type-arg]
    return {
        "name": name,
        "image": "batchemu-test/busybox:latest",
        "command": ["sh", "-c", command],
        "essential": essential,
        "resourceRequirements": [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "64"}],
    }


@pytest.mark.docker
def test_a_multi_container_task_still_running_is_reattached_after_kill_9(
    docker_engine: None, served: Callable[[str], Served]
) -> None:
    first = served("docker")
    first.start()
    batch = first.client()
    helpers.provision(batch)
    batch.register_job_definition(
        jobDefinitionName="task",
        type="container",
        ecsProperties={
            "taskProperties": [
                {
                    "containers": [
                        task_container("main", "echo main started; sleep 4; echo main finished; exit 3"),
                        task_container("side", "echo side started; sleep 60", essential=False),
                    ]
                }
            ]
        },
    )
    time.sleep(0.3)
    job_id = batch.submit_job(jobName="task-survivor", jobQueue="q", jobDefinition="task")["jobId"]
    wait_status(batch, job_id, {"RUNNING"})
    second = restart_after_kill_9(first, served, "docker")
    batch = second.client()
    job = wait_status(batch, job_id, {"SUCCEEDED", "FAILED"}, seconds=60)
    containers = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    # the same attempt ran on: main's own exit code ends the task, the sidecar is stopped as ECS stops it
    assert (job["status"], len(job["attempts"])) == ("FAILED", 1)
    assert containers["main"]["exitCode"] == 3
    assert containers["side"]["exitCode"] in (137, 143)
    assert job["statusReason"] == "Essential container in task exited"
    messages = read_until(second, containers["main"]["logStreamName"], "main finished")
    assert messages == ["main started", "main finished"]

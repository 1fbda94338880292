"""Jobs run as host processes by the process runner (no Docker needed), seen only through boto3 against the
served emulator: success with logs in CloudWatch Logs, exit code 3, the environment inside, terminate of a
running sleep, and retries that read AWS_BATCH_JOB_ATTEMPT."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.helpers import (
    ACCOUNT,
    ENDED,
    container,
    describe,
    log_messages,
    make_client,
    provision,
    wait_for_status,
)

ENV_SCRIPT = (
    "for name in AWS_BATCH_JOB_ID AWS_BATCH_JOB_ATTEMPT AWS_BATCH_JQ_NAME AWS_BATCH_CE_NAME AWS_ENDPOINT_URL; "
    'do eval "echo $name=\\$$name"; done'
)


# What the ECS agent gives a task, read from inside the job with plain boto3 and urllib.
ECS_TASK_SCRIPT = """
import json, os, urllib.request
import boto3
for name in ("AWS_EXECUTION_ENV", "AWS_REGION", "AWS_DEFAULT_REGION"):
    print(name + "=" + os.environ[name])
print("static keys:", "AWS_ACCESS_KEY_ID" in os.environ)
session = boto3.Session()
print("credentials:", session.get_credentials().method)
print("account:", session.client("sts").get_caller_identity()["Account"])
container = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"]))
task = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task"))
print("stream:", container["LogOptions"]["awslogs-stream"])
print("task:", task["TaskARN"], task["Family"], task["Revision"], task["LaunchType"], task["Cluster"])
print("v3 name:", json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI"]))["Name"])
"""


class Account:
    """boto3 clients on one served emulator, and shortcuts for defining, submitting and watching jobs."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.batch = self.client("batch")
        self.logs = self.client("logs")

    def client(self, service: str) -> Any:
        return make_client(self.server.endpoint, access_key=ACCOUNT, service=service)

    def create_queue(self, name: str = "jobs", max_vcpus: int = 8) -> str:
        provision(self.batch, ce=f"{name}-ce", queue=name, max_vcpus=max_vcpus)
        return name

    def define(self, name: str, command: list[str]) -> str:
        self.batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            containerProperties=container(command, memory=64),  # its image is ignored by the process runner
        )
        return name

    def submit(self, queue: str, definition: str, **fields: Any) -> str:
        return self.batch.submit_job(jobName=definition, jobQueue=queue, jobDefinition=definition, **fields)[
            "jobId"
        ]

    def describe(self, job_id: str) -> dict[str, Any]:
        return describe(self.batch, job_id)

    def wait_for(
        self, job_id: str, statuses: tuple[str, ...] = ENDED, deadline: float = 30
    ) -> dict[str, Any]:
        """Polls DescribeJobs until the job reaches one of `statuses`; fails after `deadline` seconds."""
        return wait_for_status(self.batch, job_id, statuses, deadline, interval=0.05)

    def log_messages(self, job: dict[str, Any]) -> list[str]:
        """The job's lines in CloudWatch Logs, once its last lines are shipped."""
        return log_messages(self.server.emulator, self.logs, job)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    with ServerThread(Emulator(Settings(runner="process"))) as server:
        yield Account(server)


@pytest.fixture(scope="module")
def queue(account: Account) -> str:
    return account.create_queue()


@pytest.fixture(scope="module")
def jobs(account: Account, queue: str) -> dict[str, str]:
    """Every job, submitted at once so they run side by side; each test then waits for its own."""
    define, submit = account.define, account.submit
    define("sleeper", ["sleep", "300"])
    define("hello", ["sh", "-c", "echo hello; echo world >&2"])
    define("exit-three", ["sh", "-c", "exit 3"])
    define("env", ["sh", "-c", ENV_SCRIPT])
    define("ecs-task", [sys.executable, "-c", ECS_TASK_SCRIPT])
    define("third-time", ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" = 3 ] || exit 1; echo third'])
    return {
        "sleeper": submit(queue, "sleeper"),
        "hello": submit(queue, "hello"),
        "exit-three": submit(queue, "exit-three"),
        "env": submit(queue, "env"),
        "third-time": submit(queue, "third-time", retryStrategy={"attempts": 3}),
        "ecs-task": submit(queue, "ecs-task"),
    }


def test_terminating_a_running_sleep_fails_it_within_seconds_with_exit_137(
    account: Account, jobs: dict[str, str]
) -> None:
    account.wait_for(jobs["sleeper"], ("RUNNING",))
    began = time.monotonic()
    account.batch.terminate_job(jobId=jobs["sleeper"], reason="Stopped by the test")
    job = account.wait_for(jobs["sleeper"], deadline=10)
    assert time.monotonic() - began < 5
    assert (job["status"], job["statusReason"]) == ("FAILED", "Stopped by the test")
    assert job["container"]["exitCode"] == 137


def test_a_successful_job_has_its_output_in_cloudwatch_logs(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["hello"])
    assert (job["status"], job["container"]["exitCode"]) == ("SUCCEEDED", 0)
    assert job["container"]["logStreamName"].startswith("hello/default/")
    assert account.log_messages(job) == ["hello", "world"]  # one pipe for both: their order is kept


def test_exit_code_three_fails_the_job_with_essential_container_exited(
    account: Account, jobs: dict[str, str]
) -> None:
    job = account.wait_for(jobs["exit-three"])
    assert (job["status"], job["container"]["exitCode"]) == ("FAILED", 3)
    assert job["statusReason"] == "Essential container in task exited"


def test_the_process_sees_its_batch_variables_and_the_emulator_endpoint(
    account: Account, jobs: dict[str, str], queue: str
) -> None:
    job = account.wait_for(jobs["env"])
    assert job["status"] == "SUCCEEDED"
    assert account.log_messages(job) == [
        f"AWS_BATCH_JOB_ID={jobs['env']}",
        "AWS_BATCH_JOB_ATTEMPT=1",
        f"AWS_BATCH_JQ_NAME={queue}",
        f"AWS_BATCH_CE_NAME={queue}-ce",
        f"AWS_ENDPOINT_URL={account.server.endpoint}",
    ]


def test_retries_run_until_the_third_attempt_succeeds(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["third-time"])
    assert job["status"] == "SUCCEEDED"
    assert [attempt["container"]["exitCode"] for attempt in job["attempts"]] == [1, 1, 0]
    assert account.log_messages(job) == ["third"]


def test_the_job_gets_the_ecs_task_environment_and_role_credentials_without_static_keys(
    account: Account, jobs: dict[str, str]
) -> None:
    """Metaflow and the SDKs' default credential chain rely on what the ECS agent gives every task."""
    job = account.wait_for(jobs["ecs-task"])
    lines = account.log_messages(job)
    assert job["status"] == "SUCCEEDED", lines
    attempt = job["attempts"][0]["container"]
    environment = account.batch.describe_compute_environments()["computeEnvironments"][0]
    assert lines == [
        "AWS_EXECUTION_ENV=AWS_ECS_EC2",
        "AWS_REGION=us-east-1",
        "AWS_DEFAULT_REGION=us-east-1",
        "static keys: False",
        "credentials: container-role",
        f"account: {ACCOUNT}",
        f"stream: {attempt['logStreamName']}",
        f"task: {attempt['taskArn']} ecs-task 1 EC2 {environment['ecsClusterArn']}",
        "v3 name: default",
    ]


def test_every_log_line_is_readable_the_instant_the_job_is_seen_finished(
    account: Account, queue: str
) -> None:
    """Clients (Airflow, Luigi, the AWS CLI) read a job's logs right after its terminal status."""
    account.define("chatty", ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"])
    job_ids = [account.submit(queue, "chatty") for _ in range(6)]
    for job_id in job_ids:
        job = account.wait_for(job_id)
        events = account.logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"], startFromHead=True
        )["events"]
        assert [event["message"] for event in events] == [f"line {i}" for i in range(300)]


def test_a_multi_container_job_runs_every_process_and_stops_the_sidecar(account: Account, queue: str) -> None:
    def process(name: str, script: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, **container(["sh", "-c", script], memory=64), **extra}

    main = process("main", "echo main done", dependsOn=[{"containerName": "side", "condition": "START"}])
    side = process("side", "echo side up; exec sleep 300", essential=False)
    account.batch.register_job_definition(
        jobDefinitionName="two-processes",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [main, side]}]},
    )
    job = account.wait_for(account.submit(queue, "two-processes"))
    assert job["status"] == "SUCCEEDED"
    found = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert (found["main"]["exitCode"], found["side"]["exitCode"]) == (0, 137)
    account.server.emulator.flush()
    for name, line in (("main", "main done"), ("side", "side up")):
        events = account.logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=found[name]["logStreamName"], startFromHead=True
        )["events"]
        assert [event["message"] for event in events] == [line]


def test_a_multi_node_job_whose_main_node_fails_once_succeeds_on_its_second_attempt(
    account: Account, queue: str
) -> None:
    main = container(["sh", "-c", 'sleep 2; test "$AWS_BATCH_JOB_ATTEMPT" -ge 2'])
    other = container(["sleep", "300"])
    account.batch.register_job_definition(
        jobDefinitionName="mnp-retried",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0:0", "container": main},
                {"targetNodes": "1:1", "container": other},
            ],
        },
        retryStrategy={"attempts": 2},
    )
    job_id = account.submit(queue, "mnp-retried")
    parent = account.wait_for(job_id)
    assert parent["status"] == "SUCCEEDED"
    account.wait_for(f"{job_id}#1")  # the parent follows the main node; the other node is stopped after it
    nodes = account.batch.describe_jobs(jobs=[f"{job_id}#0", f"{job_id}#1"])["jobs"]
    main_node, other_node = sorted(nodes, key=lambda job: job["jobId"])
    assert [attempt["container"]["exitCode"] for attempt in main_node["attempts"]] == [1, 0]
    # stopped (or, not started yet, cancelled) when the main node exited, each time
    assert other_node["statusReason"] == "Main node exited"
    assert all(attempt["statusReason"] == "Main node exited" for attempt in other_node["attempts"])


def test_each_node_of_an_ecs_properties_range_runs_every_process_with_its_node_index(
    account: Account, queue: str
) -> None:
    def process(name: str, script: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, **container(["sh", "-c", script], memory=64), **extra}

    main = process("main", 'echo "$AWS_BATCH_JOB_NODE_INDEX of $AWS_BATCH_JOB_NUM_NODES"; sleep 3')
    side = process("side", 'echo "side $AWS_BATCH_JOB_NODE_INDEX"; exec sleep 300', essential=False)
    account.batch.register_job_definition(
        jobDefinitionName="mnp-tasks",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0:1", "ecsProperties": {"taskProperties": [{"containers": [main, side]}]}}
            ],
        },
    )
    job_id = account.submit(queue, "mnp-tasks")
    assert account.wait_for(job_id)["status"] == "SUCCEEDED"
    account.server.emulator.flush()
    for index in (0, 1):
        [node] = account.batch.describe_jobs(jobs=[f"{job_id}#{index}"])["jobs"]
        found = {c["name"]: c for c in node["ecsProperties"]["taskProperties"][0]["containers"]}
        for name, line in (("main", f"{index} of 2"), ("side", f"side {index}")):
            events = account.logs.get_log_events(
                logGroupName="/aws/batch/job", logStreamName=found[name]["logStreamName"], startFromHead=True
            )["events"]
            assert [event["message"] for event in events] == [line], (index, name)

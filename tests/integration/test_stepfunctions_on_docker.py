"""Step Functions drives real Docker jobs through the one endpoint (issue 18's "done when"): a `.sync` task
returns the finished job in PascalCase, a failed job is a States.TaskFailed that a Catch reads, a Map runs four
jobs at MaxConcurrency 3 and collects them, and StopExecution terminates the running container."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.helpers import ACCOUNT, compute_resources, make_client

BUSYBOX = "batchemu-test/busybox:latest"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/states-run-batch"
SYNC = "arn:aws:states:::batch:submitJob.sync"


class Endpoint:
    def __init__(self, server: ServerThread) -> None:
        self.batch = make_client(server.endpoint, access_key=ACCOUNT)
        self.sfn = make_client(server.endpoint, access_key=ACCOUNT, service="stepfunctions")
        self.logs = make_client(server.endpoint, access_key=ACCOUNT, service="logs")

    def define(self, name: str, command: list[str]) -> None:
        self.batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            containerProperties={
                "image": BUSYBOX,
                "command": command,
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}],
            },
        )

    def start(self, states: dict[str, Any], start_at: str, payload: Any = None) -> str:
        machine = self.sfn.create_state_machine(
            name=f"m-{uuid.uuid4().hex[:8]}",
            definition=json.dumps({"StartAt": start_at, "States": states}),
            roleArn=ROLE,
        )["stateMachineArn"]
        return str(
            self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload or {}))["executionArn"]
        )

    def finished(self, execution: str, seconds: float = 60) -> dict[str, Any]:
        give_up = time.monotonic() + seconds
        while (described := self.sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < give_up, f"{execution} still RUNNING"
            time.sleep(0.05)
        return dict(described)


@pytest.fixture(scope="module")
def endpoint(docker_engine: None) -> Iterator[Endpoint]:
    with ServerThread(Emulator(Settings(runner="docker"))) as server:
        aws = Endpoint(server)
        aws.batch.create_compute_environment(
            computeEnvironmentName="ce", type="MANAGED", computeResources=compute_resources(4)
        )
        aws.batch.create_job_queue(
            jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
        )
        aws.define("say", ["sh", "-c", "echo managed=$MANAGED_BY_AWS"])
        aws.define("fail", ["sh", "-c", "exit 3"])
        aws.define("item", ["sh", "-c", "sleep 1; echo item=Ref::item"])
        aws.define("sleeper", ["sleep", "300"])
        yield aws


@pytest.fixture(scope="module")
def executions(endpoint: Endpoint) -> dict[str, str]:
    """Every execution, started at once so their containers run side by side."""
    item_task = {
        "Type": "Task",
        "Resource": SYNC,
        "Parameters": {
            "JobName": "item",
            "JobQueue": "q",
            "JobDefinition": "item",
            "Parameters": {"item.$": "$"},
        },
        "ResultSelector": {
            "item.$": "$.Parameters.item",
            "exit.$": "$.Container.ExitCode",
            "id.$": "$.JobId",
        },
        "End": True,
    }
    return {
        "sync": endpoint.start(
            {
                "Run": {
                    "Type": "Task",
                    "Resource": SYNC,
                    "End": True,
                    "Parameters": {"JobName": "say", "JobQueue": "q", "JobDefinition": "say"},
                }
            },
            "Run",
        ),
        "catch": endpoint.start(
            {
                "Run": {
                    "Type": "Task",
                    "Resource": SYNC,
                    "Parameters": {"JobName": "fail", "JobQueue": "q", "JobDefinition": "fail"},
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {
                    "Type": "Pass",
                    "Parameters": {"job.$": "States.StringToJson($.Cause)", "error.$": "$.Error"},
                    "End": True,
                },
            },
            "Run",
        ),
        "map": endpoint.start(
            {
                "Fan": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 3,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Run",
                        "States": {"Run": item_task},
                    },
                    "End": True,
                }
            },
            "Fan",
            {"items": ["a", "b", "c", "d"]},
        ),
        "stop": endpoint.start(
            {
                "Run": {
                    "Type": "Task",
                    "Resource": SYNC,
                    "End": True,
                    "Parameters": {"JobName": "sleeper", "JobQueue": "q", "JobDefinition": "sleeper"},
                }
            },
            "Run",
        ),
    }


def test_a_sync_task_returns_the_finished_job_in_pascal_case(
    endpoint: Endpoint, executions: dict[str, str]
) -> None:
    described = endpoint.finished(executions["sync"])
    assert described["status"] == "SUCCEEDED"
    job = json.loads(described["output"])
    assert job["Status"] == "SUCCEEDED" and job["Container"]["ExitCode"] == 0
    lines = endpoint.logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["Container"]["LogStreamName"], startFromHead=True
    )["events"]
    assert [line["message"] for line in lines] == ["managed=STARTED_BY_STEP_FUNCTIONS"]


def test_a_failed_job_is_a_task_failure_a_catch_reads(endpoint: Endpoint, executions: dict[str, str]) -> None:
    output = json.loads(endpoint.finished(executions["catch"])["output"])
    assert output["error"] == "States.TaskFailed"
    assert output["job"]["Status"] == "FAILED"
    assert output["job"]["Container"]["ExitCode"] == 3


def test_a_map_runs_four_jobs_three_at_a_time_and_collects_them(
    endpoint: Endpoint, executions: dict[str, str]
) -> None:
    described = endpoint.finished(executions["map"])
    assert described["status"] == "SUCCEEDED"
    results = json.loads(described["output"])
    assert [(r["item"], r["exit"]) for r in results] == [(item, 0) for item in "abcd"]
    jobs = endpoint.batch.describe_jobs(jobs=[r["id"] for r in results])["jobs"]
    spans = [(job["createdAt"], job["stoppedAt"]) for job in jobs]
    most_at_once = max(sum(1 for start, stop in spans if start <= moment < stop) for moment, _ in spans)
    assert most_at_once == 3


def test_stop_execution_terminates_the_running_container(
    endpoint: Endpoint, executions: dict[str, str]
) -> None:
    execution = executions["stop"]
    sfn, batch = endpoint.sfn, endpoint.batch
    give_up = time.monotonic() + 60
    job_id = None
    while job_id is None or batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "RUNNING":
        assert time.monotonic() < give_up
        submitted = [
            e
            for e in sfn.get_execution_history(executionArn=execution)["events"]
            if e["type"] == "TaskSubmitted"
        ]
        if submitted:
            job_id = json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])["JobId"]
        time.sleep(0.05)
    stopped = time.monotonic()
    sfn.stop_execution(executionArn=execution)
    while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] != "FAILED":
        assert time.monotonic() - stopped < 30, job["status"]
        time.sleep(0.05)
    assert "was aborted" in job["statusReason"]
    assert job["container"]["exitCode"] == 137
    assert endpoint.finished(execution)["status"] == "ABORTED"

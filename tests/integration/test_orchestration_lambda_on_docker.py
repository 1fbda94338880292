"""The orchestrators reach real Lambda functions (batchemu's runtime image on Docker): a Step Functions
`lambda:invoke` task gets the handler's result as Payload, and an EventBridge scheduled rule with a Lambda
target invokes a function on the fake clock, whose unmodified boto3 submits a Batch job."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings
from tests.helpers import ACCOUNT, make_client, provision

pytestmark = pytest.mark.docker

HANDLER = """
import boto3

def double(event, context):
    return {"doubled": event["n"] * 2}

def submit(event, context):
    job = boto3.client("batch").submit_job(jobName="from-schedule", jobQueue="lq", jobDefinition="noop",
                                           parameters={"source": event["source"]})
    return job["jobId"]
"""


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers.py", HANDLER)
    return buffer.getvalue()


class Endpoint:
    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.emulator = server.emulator
        self.batch = self.client("batch")
        provision(
            self.batch,
            ce="lce",
            queue="lq",
            definition="noop",
            properties={
                "image": "batchemu-test/busybox:latest",
                "command": ["true"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}],
            },
        )
        role = self.client("iam").create_role(
            RoleName=f"fn-{uuid.uuid4().hex[:8]}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self.functions = {
            name: self.client("lambda").create_function(
                FunctionName=f"{name}-{uuid.uuid4().hex[:6]}",
                Runtime="python3.11",
                Role=role,
                Handler=f"handlers.{name}",
                Code={"ZipFile": package()},
                Timeout=30,
            )["FunctionArn"]
            for name in ("double", "submit")
        }

    def client(self, service: str) -> Any:
        return make_client(self.server.endpoint, access_key=ACCOUNT, service=service)


@pytest.fixture(scope="module")
def endpoint(docker_engine: None) -> Iterator[Endpoint]:
    with ServerThread(Emulator(Settings(runner="docker"), clock=FakeClock())) as server:
        yield Endpoint(server)


def until(check: Any, seconds: float = 60) -> Any:
    give_up = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.05)
    return result


def test_a_step_functions_lambda_task_gets_the_handlers_result(endpoint: Endpoint) -> None:
    sfn = endpoint.client("stepfunctions")
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": endpoint.functions["double"], "Payload": {"n.$": "$.n"}},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"l-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": 21}))["executionArn"]
    described = until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d
    )
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"doubled": 42}


def test_a_scheduled_rule_invokes_a_lambda_target_that_submits_a_job(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    rule = f"every-minute-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": endpoint.functions["submit"]}])
    try:
        endpoint.emulator.advance(60)

        def submitted() -> list[dict[str, Any]]:
            endpoint.emulator.run_until_idle()
            jobs = []
            for status in ("SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"):
                jobs += endpoint.batch.list_jobs(jobQueue="lq", jobStatus=status)["jobSummaryList"]
            return [job for job in jobs if job["jobName"] == "from-schedule"]

        (job,) = until(submitted)
        detail = endpoint.batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
        assert detail["parameters"]["source"] == "aws.events"
    finally:
        events.remove_targets(Rule=rule, Ids=["fn"])
        events.delete_rule(Name=rule)

"""Lambda functions run in batchemu's Python runtime image on a real Docker engine, seen through boto3 against
the served emulator: results, unhandled errors, environment, a handler's boto3 reaching Batch, timeout,
Event invocations, S3 notifications, the /aws/lambda log group, and a missing image."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.helpers import ACCOUNT, make_client, provision

pytestmark = pytest.mark.docker

QUEUE = "lambda-jobs"
BUCKET = f"lambda-uploads-{uuid.uuid4().hex[:8]}"  # moto's S3 is process-wide
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
HANDLERS = f"""
import os, time
import boto3

def echo(event, context):
    print("echo got", event)
    try:
        import shades  # from a layer (/opt/python), when the function has it
    except ImportError:
        shades = None
    return {{
        "event": event,
        "colour": os.environ.get("COLOUR"),
        "function": context.function_name,
        "shade": getattr(shades, "SHADE", None),
    }}

def boom(event, context):
    raise ValueError("boom: " + str(event.get("why")))

def sleepy(event, context):
    time.sleep(30)

def submit(event, context):
    # No endpoint_url, no credentials: the runtime points unmodified boto3 at batchemu.
    name = event.get("name") or event["Records"][0]["s3"]["object"]["key"].replace(".", "-")
    params = {{"event": __import__("json").dumps(event)[:1000]}}
    job = boto3.client("batch").submit_job(
        jobName=name, jobQueue="{QUEUE}", jobDefinition="noop", parameters=params
    )
    print("submitted", job["jobId"])
    return job["jobId"]
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Functions:
    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.awslambda = self.client("lambda")
        self.batch = self.client("batch")
        self.role = self.client("iam").create_role(
            RoleName=f"lambda-role-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY)
        )["Role"]["Arn"]
        self.code = package({"handlers.py": HANDLERS})

    def client(self, service: str) -> Any:
        return make_client(self.server.endpoint, access_key=ACCOUNT, service=service)

    def create(self, handler: str, runtime: str = "python3.12", **fields: Any) -> str:
        name = f"{handler}-{uuid.uuid4().hex[:6]}"
        self.awslambda.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=self.role,
            Handler=f"handlers.{handler}",
            Code={"ZipFile": self.code},
            **fields,
        )
        return name

    def invoke(self, name: str, payload: Any, **fields: Any) -> tuple[dict[str, Any], Any]:
        response = self.awslambda.invoke(FunctionName=name, Payload=json.dumps(payload), **fields)
        body = response["Payload"].read()
        return response, json.loads(body) if body else None

    def job_named(self, name: str, deadline: float = 30) -> dict[str, Any]:
        give_up = time.monotonic() + deadline
        while True:
            jobs = self.batch.list_jobs(jobQueue=QUEUE, filters=[{"name": "JOB_NAME", "values": [name]}])
            if jobs["jobSummaryList"]:
                return self.batch.describe_jobs(jobs=[jobs["jobSummaryList"][0]["jobId"]])["jobs"][0]
            assert time.monotonic() < give_up, f"no job {name} after {deadline}s"
            time.sleep(0.1)

    def log_lines(self, name: str, deadline: float = 30) -> list[str]:
        logs, group = self.client("logs"), f"/aws/lambda/{name}"
        give_up = time.monotonic() + deadline
        while True:
            groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"] if groups else []
            if streams:
                stream = streams[0]["logStreamName"]
                return [
                    e["message"]
                    for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
                ]
            assert time.monotonic() < give_up, f"no log stream in {group} after {deadline}s"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def functions(docker_engine: None) -> Iterator[Functions]:
    # Jobs only need to exist: the simulated runner keeps this module's containers to the functions'.
    with ServerThread(Emulator(Settings(runner="simulated"))) as server:
        fns = Functions(server)
        provision(fns.batch, ce="lambda-ce", queue=QUEUE, definition="noop")
        yield fns


def test_request_response_returns_the_result_with_the_event_environment_layer_and_log_tail(
    functions: Functions,
) -> None:
    layer = functions.awslambda.publish_layer_version(
        LayerName="shades", Content={"ZipFile": package({"python/shades.py": "SHADE = 'dark'\n"})}
    )["LayerVersionArn"]
    name = functions.create("echo", Environment={"Variables": {"COLOUR": "teal"}}, Layers=[layer])
    response, result = functions.invoke(name, {"n": 1}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result == {"event": {"n": 1}, "colour": "teal", "function": name, "shade": "dark"}
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "echo got {'n': 1}" in tail and "START RequestId:" in tail and "REPORT RequestId:" in tail


def test_an_unhandled_exception_is_function_error_unhandled_and_logged_to_its_log_group(
    functions: Functions,
) -> None:
    name = functions.create("boom")
    response, result = functions.invoke(name, {"why": "testing"})
    assert response["FunctionError"] == "Unhandled"
    assert (result["errorType"], result["errorMessage"]) == ("ValueError", "boom: testing")
    assert any("raise ValueError" in frame for frame in result["stackTrace"])
    lines = functions.log_lines(name)
    assert lines[0].startswith("START RequestId: ") and "[ERROR] ValueError: boom: testing" in lines


def test_a_handlers_own_boto3_submits_a_batch_job_that_then_exists(functions: Functions) -> None:
    name = functions.create("submit", Timeout=30)
    response, job_id = functions.invoke(name, {"name": "from-lambda"})
    assert "FunctionError" not in response, job_id
    assert functions.job_named("from-lambda")["jobId"] == job_id


def test_a_function_running_past_its_timeout_fails_with_task_timed_out(functions: Functions) -> None:
    name = functions.create("sleepy", Timeout=1)
    started = time.monotonic()
    response, result = functions.invoke(name, {})
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_an_event_invocation_answers_202_at_once_and_runs_later(functions: Functions) -> None:
    name = functions.create("submit", Timeout=30)
    response, body = functions.invoke(name, {"name": "from-event"}, InvocationType="Event")
    assert (response["StatusCode"], body) == (202, None)
    assert functions.job_named("from-event")["jobName"] == "from-event"


def test_an_s3_upload_invokes_the_function_with_s3s_record_which_submits_a_job(functions: Functions) -> None:
    name = functions.create("submit", Timeout=30)
    arn = functions.awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3 = functions.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket=BUCKET, Key="photo.jpg", Body=b"jpeg")
    job = functions.job_named("photo-jpg")
    assert job["status"] in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
    record = json.loads(job["parameters"]["event"])["Records"][0]
    assert (record["eventSource"], record["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert record["s3"]["bucket"]["name"] == BUCKET and record["s3"]["object"]["key"] == "photo.jpg"
    assert record["eventTime"].endswith("Z")


def test_a_missing_runtime_image_fails_the_invocation_at_once_naming_it(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_DOCKER_LAMBDA_IMAGE", "batchemu-test/no-such-runtime:latest")
    name = functions.create("echo")
    started = time.monotonic()
    response, result = functions.invoke(name, {})
    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    assert "batchemu-test/no-such-runtime:latest is not on this Docker engine" in result["errorMessage"]

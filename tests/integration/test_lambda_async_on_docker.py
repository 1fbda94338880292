"""Asynchronous Lambda invocations on a real Docker engine, on the emulator's fake clock: a function error is
retried one minute and then two minutes later (MaximumRetryAttempts, default 2), and the invocation record
goes to the OnFailure or OnSuccess destination in Lambda's shape."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.integration.test_lambda_on_docker import Functions

pytestmark = pytest.mark.docker


def runs_of(functions: Functions, name: str) -> int:
    """How many times the function has run: its START lines in every stream of its log group."""
    logs, group = functions.client("logs"), f"/aws/lambda/{name}"
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        return 0
    count = 0
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        count += sum(event["message"].startswith("START RequestId:") for event in events)
    return count


def wait_for_runs(functions: Functions, name: str, wanted: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while runs_of(functions, name) < wanted:
        assert time.monotonic() < deadline, f"{name} ran {runs_of(functions, name)} times, not {wanted}"
        time.sleep(0.2)


def destination_queue(functions: Functions) -> tuple[Any, str, str]:
    sqs = functions.client("sqs")
    url = sqs.create_queue(QueueName=f"destination-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def one_record(sqs: Any, url: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            assert len(messages) == 1
            return json.loads(messages[0]["Body"])  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "no invocation record arrived"
        time.sleep(0.2)


@pytest.fixture
def functions(docker_engine: None, server: ServerThread, emulator: Emulator) -> Functions:
    return Functions(server)


def test_a_failing_event_invocation_runs_three_times_a_minute_then_two_apart_then_goes_to_on_failure(
    functions: Functions, emulator: Emulator
) -> None:
    sqs, url, arn = destination_queue(functions)
    name = functions.create("boom")
    functions.awslambda.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    response, _ = functions.invoke(name, {"why": "retried"}, InvocationType="Event")
    assert response["StatusCode"] == 202
    wait_for_runs(functions, name, 1)
    emulator.advance(59)
    time.sleep(1.5)
    assert runs_of(functions, name) == 1  # the first retry waits a minute
    emulator.advance(1)
    wait_for_runs(functions, name, 2)
    emulator.advance(119)
    time.sleep(1.5)
    assert runs_of(functions, name) == 2  # the second waits two more
    emulator.advance(1)
    wait_for_runs(functions, name, 3)
    record = one_record(sqs, url)
    context = record["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == ("RetriesExhausted", 3)
    assert context["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"why": "retried"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert (record["responsePayload"]["errorType"], record["responsePayload"]["errorMessage"]) == (
        "ValueError",
        "boom: retried",
    )
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    emulator.advance(600)
    time.sleep(1)
    assert runs_of(functions, name) == 3  # nothing after the last retry


def test_no_retries_when_maximum_retry_attempts_is_0_and_success_goes_to_on_success(
    functions: Functions, emulator: Emulator
) -> None:
    sqs, url, arn = destination_queue(functions)
    failing = functions.create("boom")
    functions.awslambda.put_function_event_invoke_config(
        FunctionName=failing, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    functions.invoke(failing, {"why": "once"}, InvocationType="Event")
    record = one_record(sqs, url)
    assert (record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]) == (
        "RetriesExhausted",
        1,
    )
    succeeding = functions.create("echo")
    functions.awslambda.put_function_event_invoke_config(
        FunctionName=succeeding, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    functions.invoke(succeeding, {"n": 2}, InvocationType="Event")
    record = one_record(sqs, url)
    assert (record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]) == (
        "Success",
        1,
    )
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"]["event"] == {"n": 2}
    emulator.advance(600)
    time.sleep(1)
    assert runs_of(functions, failing) == 1

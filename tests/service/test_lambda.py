"""Lambda through the one endpoint, with the container run replaced by a stand-in (no Docker): what the
hook in integrations/moto_lambda.py does with Invoke's invocation types, bad payloads, S3 notifications
(off the PutObject thread, in S3's record shape) and logs. Real containers: tests/integration."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator, ServerThread
from batchemu.integrations import moto_lambda
from batchemu.runners.base import LogEvent
from batchemu.runners.lambda_container import Invocation, Outcome
from tests.helpers import ACCOUNT, make_client

NOW_MS = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class StandIn:
    """Records invocations; each run waits for `release` and answers `outcome`."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.started = threading.Event()
        self.finished = threading.Event()
        self.release = threading.Event()
        self.outcome = Outcome(b'{"ok": true}', False, [LogEvent(NOW_MS, "hello from the stand-in")])

    def run(self, invocation: Invocation) -> Outcome:
        self.invocations.append(invocation)
        self.started.set()
        assert self.release.wait(10), "the test never released the run"
        self.finished.set()
        return self.outcome


@pytest.fixture
def stand_in(server: ServerThread, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    runtime = moto_lambda.current_runtime()
    assert runtime is not None, "the served emulator connected no Lambda runtime"
    fake = StandIn()
    monkeypatch.setattr(runtime, "run", fake.run)
    yield fake
    fake.release.set()


def aws(server: ServerThread, service: str) -> Any:
    return make_client(server.endpoint, access_key=ACCOUNT, service=service)


def create_function(server: ServerThread, name: str) -> str:
    iam = aws(server, "iam")
    try:
        role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))[
            "Role"
        ]
    except ClientError:
        role = iam.get_role(RoleName="lambda-role")["Role"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    created = aws(server, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=9,
        MemorySize=256,
        Environment={"Variables": {"COLOUR": "red"}},
    )
    return str(created["FunctionArn"])


def test_request_response_answers_the_runs_result_with_its_log_tail(
    server: ServerThread, stand_in: StandIn
) -> None:
    create_function(server, "sync-fn")
    stand_in.release.set()
    response = aws(server, "lambda").invoke(FunctionName="sync-fn", Payload=b'{"n": 1}', LogType="Tail")
    assert (response["StatusCode"], response["Payload"].read()) == (200, b'{"ok": true}')
    assert "FunctionError" not in response
    assert response["LogResult"] == "aGVsbG8gZnJvbSB0aGUgc3RhbmQtaW4="  # "hello from the stand-in"
    invocation = stand_in.invocations[0]
    assert (invocation.event, invocation.handler, invocation.timeout_seconds) == (
        '{"n": 1}',
        "index.handler",
        9,
    )
    assert (invocation.memory_mib, invocation.environment) == (256, {"COLOUR": "red"})
    assert invocation.code.startswith(b"PK")


def test_a_failed_run_is_function_error_unhandled_and_its_log_is_in_the_log_group(
    server: ServerThread, stand_in: StandIn
) -> None:
    create_function(server, "failing-fn")
    stand_in.outcome = Outcome(b'{"errorType": "ValueError"}', True, [LogEvent(NOW_MS, "[ERROR] x")])
    stand_in.release.set()
    response = aws(server, "lambda").invoke(FunctionName="failing-fn", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled" and "LogResult" not in response
    logs = aws(server, "logs")
    stream = logs.describe_log_streams(logGroupName="/aws/lambda/failing-fn")["logStreams"][0][
        "logStreamName"
    ]
    assert "/[$LATEST]" in stream
    events = logs.get_log_events(logGroupName="/aws/lambda/failing-fn", logStreamName=stream)["events"]
    assert [event["message"] for event in events] == ["[ERROR] x"]


def test_an_event_invocation_answers_202_before_the_run_ends(server: ServerThread, stand_in: StandIn) -> None:
    create_function(server, "async-fn")
    response = aws(server, "lambda").invoke(FunctionName="async-fn", InvocationType="Event", Payload=b"{}")
    assert response["StatusCode"] == 202
    assert stand_in.started.wait(5) and not stand_in.finished.is_set()
    stand_in.release.set()
    assert stand_in.finished.wait(5)


def test_dry_run_runs_nothing(server: ServerThread, stand_in: StandIn) -> None:
    create_function(server, "dry-fn")
    response = aws(server, "lambda").invoke(FunctionName="dry-fn", InvocationType="DryRun")
    assert response["StatusCode"] == 204 and stand_in.invocations == []


def test_a_payload_that_is_not_json_is_invalid_request_content(
    server: ServerThread, stand_in: StandIn
) -> None:
    create_function(server, "json-fn")
    with pytest.raises(ClientError) as raised:
        aws(server, "lambda").invoke(FunctionName="json-fn", Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert stand_in.invocations == []


def test_put_object_answers_while_the_notified_function_still_runs_with_s3s_record(
    server: ServerThread, stand_in: StandIn
) -> None:
    arn = create_function(server, "s3-fn")
    s3 = aws(server, "s3")
    s3.create_bucket(Bucket="uploads")
    configuration = {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"], "Id": "thumbs"}
    s3.put_bucket_notification_configuration(
        Bucket="uploads", NotificationConfiguration={"LambdaFunctionConfigurations": [configuration]}
    )
    s3.put_object(Bucket="uploads", Key="a photo.jpg", Body=b"jpeg")  # returns though the run waits
    assert stand_in.started.wait(5) and not stand_in.finished.is_set()
    record = json.loads(stand_in.invocations[0].event)["Records"][0]
    assert (record["eventSource"], record["eventName"], record["s3"]["configurationId"]) == (
        "aws:s3",
        "ObjectCreated:Put",
        "thumbs",
    )
    assert record["s3"]["object"]["key"] == "a+photo.jpg"  # URL-encoded, as S3 sends it
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == len("2026-01-01T00:00:00.000Z")
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    assert "sequencer" in record["s3"]["object"] and "ownerIdentity" in record["s3"]["bucket"]
    stand_in.release.set()

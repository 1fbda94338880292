"""--state-dir keeps every service the endpoint serves through moto: what a request changes is on disk
when its answer arrives, and comes back after a restart (batchemu/moto_saver.py, moto_state.py)."""

from __future__ import annotations

import io
import json
import logging
import pickle
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings
from batchemu.moto_state import RESTARTED_ERROR
from batchemu.persistence import FILE_NAME
from tests.helpers import ACCOUNT, make_client

ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
WAIT_MACHINE = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def emulator_on(state_dir: Path | None) -> Emulator:
    return Emulator(
        Settings(runner="simulated", state_dir=str(state_dir) if state_dir else None), clock=FakeClock()
    )


@pytest.fixture(autouse=True)
def fresh_moto() -> Iterator[None]:
    """Each test starts from an empty moto, as a new process would, and leaves it empty."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()
    yield
    BackendDict.reset()


def restart_process() -> None:
    """What a new `batchemu serve` process starts from: moto holds nothing."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


def aws(server: ServerThread | str, service: str) -> Any:
    """A client of `service` on a server (or an endpoint URL)."""
    endpoint = server if isinstance(server, str) else server.endpoint
    return make_client(endpoint, access_key=ACCOUNT, service=service)


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def populate(server: ServerThread | str) -> dict[str, str]:
    s3, ddb, logs = aws(server, "s3"), aws(server, "dynamodb"), aws(server, "logs")
    sqs = aws(server, "sqs")
    queue_url = sqs.create_queue(QueueName="notes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.create_bucket(Bucket="kept")
    s3.put_bucket_notification_configuration(
        Bucket="kept",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    for number in range(3):
        s3.put_object(Bucket="kept", Key=f"out/{number}.txt", Body=f"result {number}".encode())
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName="t", Item={"id": {"S": "b"}, "n": {"N": "2"}})
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="s")
    logs.put_log_events(
        logGroupName="/app",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello"}],
    )
    events = aws(server, "events")
    events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="hourly", Targets=[{"Id": "q", "Arn": queue_arn}])
    aws(server, "iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    machine = aws(server, "stepfunctions").create_state_machine(
        name="sm", definition=json.dumps(WAIT_MACHINE), roleArn=ROLE
    )["stateMachineArn"]
    aws(server, "lambda").create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.main",
        Code={"ZipFile": zipped("def main(event, context):\n    return 1\n")},
    )
    aws(server, "ecs").create_cluster(clusterName="cl")
    aws(server, "scheduler").create_schedule(
        Name="nightly",
        ScheduleExpression="cron(0 2 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue_arn, "RoleArn": ROLE},
    )
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-stack"}}}}
    aws(server, "cloudformation").create_stack(StackName="st", TemplateBody=json.dumps(template))
    return {"machine": machine, "queue_url": queue_url}


def check(server: ServerThread | str, made: dict[str, str]) -> None:
    s3, ddb, logs = aws(server, "s3"), aws(server, "dynamodb"), aws(server, "logs")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="kept")["Contents"]]
    assert keys == ["out/0.txt", "out/1.txt", "out/2.txt"]
    assert s3.get_object(Bucket="kept", Key="out/2.txt")["Body"].read() == b"result 2"
    assert s3.get_bucket_notification_configuration(Bucket="kept")["QueueConfigurations"][0]["Events"] == [
        "s3:ObjectCreated:*"
    ]
    items = ddb.scan(TableName="t")["Items"]
    assert sorted((item["id"]["S"], item["n"]["N"]) for item in items) == [("a", "1"), ("b", "2")]
    found = logs.get_log_events(logGroupName="/app", logStreamName="s")["events"]
    assert [event["message"] for event in found] == ["hello"]
    targets = aws(server, "events").list_targets_by_rule(Rule="hourly")["Targets"]
    assert [target["Id"] for target in targets] == ["q"]
    assert aws(server, "iam").get_role(RoleName="r")["Role"]["Arn"] == ROLE
    described = aws(server, "stepfunctions").describe_state_machine(stateMachineArn=made["machine"])
    assert json.loads(described["definition"]) == WAIT_MACHINE
    assert aws(server, "lambda").get_function(FunctionName="f")["Configuration"]["Handler"] == "handler.main"
    assert [c["clusterName"] for c in aws(server, "ecs").describe_clusters(clusters=["cl"])["clusters"]] == [
        "cl"
    ]
    assert aws(server, "scheduler").get_schedule(Name="nightly")["ScheduleExpression"] == "cron(0 2 * * ? *)"
    stack = aws(server, "cloudformation").describe_stacks(StackName="st")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert aws(server, "sqs").get_queue_url(QueueName="from-stack")["QueueUrl"]
    # An object written before the restart notified the queue, and the message is still there.
    messages = aws(server, "sqs").receive_message(QueueUrl=made["queue_url"], MaxNumberOfMessages=10)
    assert any("ObjectCreated:Put" in message["Body"] for message in messages.get("Messages", []))


def test_every_service_comes_back_after_a_restart_beside_the_batch_state(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        made = populate(server)
        make_client(server.endpoint).create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    restart_process()
    second = emulator_on(tmp_path)
    with ServerThread(second) as server:
        check(server, made)
        found = make_client(server.endpoint).describe_compute_environments()["computeEnvironments"]
        assert [ce["computeEnvironmentName"] for ce in found] == ["ce"]
        assert ("rule", ACCOUNT, "us-east-1", "hourly") in second.schedules.armed()  # type: ignore[union-attr]
        assert ("schedule", ACCOUNT, "us-east-1", "default", "nightly") in second.schedules.armed()  # type: ignore[union-attr]


def saved(state_dir: Path, kind: str) -> Any:
    """The backend of `kind` as it is on disk right now (read by another connection, as after kill -9)."""
    with sqlite3.connect(state_dir / FILE_NAME) as db:
        [(body,)] = db.execute(
            "SELECT body FROM moto WHERE kind = ? AND account = ? AND region IN ('aws', 'us-east-1')",
            (kind, ACCOUNT),
        ).fetchall()
    return pickle.loads(body)


def test_a_write_is_on_disk_when_its_answer_arrives(tmp_path: Path) -> None:
    emulator = emulator_on(tmp_path)
    with ServerThread(emulator) as server:
        s3, ddb = aws(server, "s3"), aws(server, "dynamodb")
        s3.create_bucket(Bucket="now")
        s3.put_object(Bucket="now", Key="k", Body=b"v")
        assert saved(tmp_path, "s3").buckets["now"].keys["k"].value == b"v"
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="t", Item={"id": {"S": "x"}})
        assert len(saved(tmp_path, "dynamodb").tables["t"]) == 1
        emulator.moto_saver.flush()  # type: ignore[union-attr]
        before = emulator.moto_saver.bytes_written  # type: ignore[union-attr]
        ddb.get_item(TableName="t", Key={"id": {"S": "x"}})
        s3.get_object(Bucket="now", Key="k")
        assert emulator.moto_saver.bytes_written == before  # type: ignore[union-attr]  # reads write nothing


def test_job_log_lines_written_in_process_are_saved(tmp_path: Path) -> None:
    emulator = emulator_on(tmp_path)
    with ServerThread(emulator) as server:
        batch = make_client(server.endpoint)
        from tests.helpers import container, provision

        provision(batch, definition="jd", properties=container(["echo", "hi"]))
        emulator.run_until_idle()
        job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
        emulator.run_until_idle()
        emulator.flush()
        stream = batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
    restart_process()
    second = emulator_on(tmp_path)
    with ServerThread(second) as server:
        streams = aws(server, "logs").describe_log_streams(logGroupName="/aws/batch/job")["logStreams"]
        assert stream in [s["logStreamName"] for s in streams]


def test_without_a_state_dir_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    emulator = emulator_on(None)
    with ServerThread(emulator) as server:
        aws(server, "s3").create_bucket(Bucket="mem")
        aws(server, "s3").put_object(Bucket="mem", Key="k", Body=b"v")
    assert emulator.moto_saver is None
    assert list(tmp_path.iterdir()) == []


def test_a_running_execution_comes_back_aborted(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        sfn = aws(server, "stepfunctions")
        machine = sfn.create_state_machine(name="w", definition=json.dumps(WAIT_MACHINE), roleArn=ROLE)
        execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1")["executionArn"]
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        found = aws(server, "stepfunctions").describe_execution(executionArn=execution)
        assert (found["status"], found["error"]) == ("ABORTED", RESTARTED_ERROR)


def test_a_backend_that_cannot_be_read_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        aws(server, "s3").create_bucket(Bucket="lost")
        aws(server, "sqs").create_queue(QueueName="kept")
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("UPDATE moto SET body = ? WHERE kind = 's3'", (b"\x80\x05garbage",))
    restart_process()
    with caplog.at_level(logging.WARNING, logger="batchemu.persistence"):
        second = emulator_on(tmp_path)
    assert "saved moto backend s3" in caplog.text
    with ServerThread(second) as server:
        assert aws(server, "s3").list_buckets()["Buckets"] == []
        assert aws(server, "sqs").get_queue_url(QueueName="kept")["QueueUrl"]
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        assert db.execute("SELECT kind FROM moto_aside").fetchall() == [("s3",)]


def test_state_saved_by_another_moto_version_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServerThread(emulator_on(tmp_path)) as server:
        aws(server, "sqs").create_queue(QueueName="old")
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("UPDATE meta SET value = '4.0.0' WHERE key = 'moto'")
    restart_process()
    with caplog.at_level(logging.WARNING, logger="batchemu.persistence"):
        second = emulator_on(tmp_path)
    assert "saved by moto 4.0.0" in caplog.text
    with ServerThread(second) as server:
        assert aws(server, "sqs").list_queues().get("QueueUrls", []) == []

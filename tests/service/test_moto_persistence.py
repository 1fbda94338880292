"""--state-dir keeps every service the endpoint serves through moto: what a request changes is on disk
when its answer arrives, and comes back after a restart (batchemu/moto_saver.py, moto_state.py)."""

from __future__ import annotations

import io
import json
import logging
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
from batchemu.moto_state import RESTARTED_ERROR, load_backend
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
        [(region, body)] = db.execute(
            "SELECT region, body FROM moto WHERE kind = ? AND account = ? AND region IN ('aws', 'us-east-1')",
            (kind, ACCOUNT),
        ).fetchall()
        entries: dict[tuple[str, ...], dict[str, bytes]] = {}
        for collection, name, entry in db.execute(
            "SELECT collection, entry, body FROM moto_entries WHERE kind = ? AND account = ? AND region = ?",
            (kind, ACCOUNT, region),
        ):
            entries.setdefault(tuple(json.loads(collection)), {})[name] = entry
    return load_backend(body, entries)[0]


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


def make_table(ddb: Any, name: str, range_key: bool = False, **more: Any) -> None:
    schema = [{"AttributeName": "id", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "id", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "n", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "n", "AttributeType": "N"})
    ddb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **more,
    )


def test_a_store_of_many_objects_items_and_events_comes_back_after_a_restart(tmp_path: Path) -> None:
    with ServerThread(emulator_on(tmp_path)) as server:
        s3, ddb, logs = aws(server, "s3"), aws(server, "dynamodb"), aws(server, "logs")
        s3.create_bucket(Bucket="many")
        s3.put_bucket_versioning(Bucket="many", VersioningConfiguration={"Status": "Enabled"})
        for number in range(400):
            s3.put_object(Bucket="many", Key=f"k/{number}", Body=f"v{number}".encode())
        s3.put_object(Bucket="many", Key="k/7", Body=b"second version")
        s3.delete_objects(Bucket="many", Delete={"Objects": [{"Key": f"k/{n}"} for n in range(390, 400)]})
        make_table(ddb, "ranged", range_key=True)
        for number in range(300):
            ddb.put_item(TableName="ranged", Item={"id": {"S": f"h{number % 3}"}, "n": {"N": str(number)}})
        ddb.update_item(
            TableName="ranged",
            Key={"id": {"S": "h1"}, "n": {"N": "1.0"}},  # the same key as "1", written otherwise
            UpdateExpression="SET note = :v",
            ExpressionAttributeValues={":v": {"S": "updated"}},
        )
        ddb.delete_item(TableName="ranged", Key={"id": {"S": "h2"}, "n": {"N": "2"}})
        ddb.batch_write_item(
            RequestItems={"ranged": [{"DeleteRequest": {"Key": {"id": {"S": "h0"}, "n": {"N": "0"}}}}]}
        )
        logs.create_log_group(logGroupName="/many")
        logs.create_log_stream(logGroupName="/many", logStreamName="s")
        now = int(time.time() * 1000)
        for batch in range(7):  # 700 events: several chunks of saved events
            events = [
                {"timestamp": now + batch * 100 + n, "message": f"e{batch * 100 + n}"} for n in range(100)
            ]
            logs.put_log_events(logGroupName="/many", logStreamName="s", logEvents=events)
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        s3, ddb, logs = aws(server, "s3"), aws(server, "dynamodb"), aws(server, "logs")
        listed = s3.get_paginator("list_objects_v2").paginate(Bucket="many")
        keys = {item["Key"] for page in listed for item in page.get("Contents", [])}
        assert keys == {f"k/{n}" for n in range(390)}
        assert s3.get_object(Bucket="many", Key="k/7")["Body"].read() == b"second version"
        versions = s3.list_object_versions(Bucket="many", Prefix="k/7")["Versions"]
        assert len([v for v in versions if v["Key"] == "k/7"]) == 2  # the older version is kept too
        items = ddb.get_paginator("scan").paginate(TableName="ranged")
        found = {(i["id"]["S"], int(i["n"]["N"])) for page in items for i in page["Items"]}
        assert found == {(f"h{n % 3}", n) for n in range(300)} - {("h2", 2), ("h0", 0)}
        item = ddb.get_item(TableName="ranged", Key={"id": {"S": "h1"}, "n": {"N": "1"}})["Item"]
        assert item["note"] == {"S": "updated"}
        got = logs.get_log_events(logGroupName="/many", logStreamName="s", startFromHead=True, limit=10_000)
        assert [event["message"] for event in got["events"]] == [f"e{n}" for n in range(700)]


def bytes_written_by(emulator: Emulator, call: Any) -> int:
    saver = emulator.moto_saver
    assert saver is not None
    before = saver.bytes_written
    call()
    return saver.bytes_written - before


def test_a_write_saves_what_it_changed_not_everything_its_service_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_on(tmp_path)
    assert emulator.moto_saver is not None
    monkeypatch.setattr(emulator.moto_saver, "flush_due", lambda: None)  # only the requests' own saves
    now = int(time.time() * 1000)
    with ServerThread(emulator) as server:
        s3, ddb, logs = aws(server, "s3"), aws(server, "dynamodb"), aws(server, "logs")
        s3.create_bucket(Bucket="grows")
        make_table(ddb, "grows")
        logs.create_log_group(logGroupName="/grows")
        logs.create_log_stream(logGroupName="/grows", logStreamName="s")
        body = b"x" * 1000

        def one_of_each(number: int) -> list[int]:
            return [
                bytes_written_by(emulator, lambda: s3.put_object(Bucket="grows", Key=f"{number}", Body=body)),
                bytes_written_by(
                    emulator,
                    lambda: ddb.put_item(
                        TableName="grows", Item={"id": {"S": f"{number}"}, "v": {"S": "y" * 500}}
                    ),
                ),
                bytes_written_by(
                    emulator,
                    lambda: logs.put_log_events(
                        logGroupName="/grows",
                        logStreamName="s",
                        logEvents=[{"timestamp": now + number, "message": "z" * 100}],
                    ),
                ),
            ]

        first = one_of_each(0)
        for number in range(1, 300):
            one_of_each(number)
        last = one_of_each(300)
        held = (tmp_path / FILE_NAME).stat().st_size
    assert held > 300 * 1500  # the services hold far more than one write
    for empty, full in zip(first, last, strict=True):
        assert full < empty + 2_000, (first, last)  # a log chunk grows; nothing re-saves what is held


def test_a_state_file_of_whole_backends_written_before_format_3_is_read(tmp_path: Path) -> None:
    from batchemu import moto_state

    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        s3.create_bucket(Bucket="old")
        s3.put_object(Bucket="old", Key="k", Body=b"from format 2")
        from moto.s3.models import s3_backends

        whole = moto_state.dumps(s3_backends[ACCOUNT]["aws"])  # how format 2 saved a backend
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("DELETE FROM moto_entries")
        db.execute("UPDATE moto SET body = ? WHERE kind = 's3'", (whole,))
        db.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        assert s3.get_object(Bucket="old", Key="k")["Body"].read() == b"from format 2"
        s3.put_object(Bucket="old", Key="new", Body=b"split")
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        assert [item["Key"] for item in s3.list_objects_v2(Bucket="old")["Contents"]] == ["k", "new"]
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == ("3",)
        assert db.execute(
            'SELECT count(*) FROM moto_entries WHERE collection = \'["keys","old"]\''
        ).fetchone() == (2,)


def test_an_entry_that_cannot_be_read_is_set_aside_and_the_rest_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        s3.create_bucket(Bucket="half")
        s3.put_object(Bucket="half", Key="good", Body=b"kept")
        s3.put_object(Bucket="half", Key="bad", Body=b"lost")
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("UPDATE moto_entries SET body = ? WHERE entry = 'bad'", (b"\x80\x05garbage",))
    restart_process()
    with caplog.at_level(logging.WARNING, logger="batchemu.persistence"):
        second = emulator_on(tmp_path)
    assert "saved entry bad of moto's s3" in caplog.text
    with ServerThread(second) as server:
        assert [item["Key"] for item in aws(server, "s3").list_objects_v2(Bucket="half")["Contents"]] == [
            "good"
        ]
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        [(why,)] = db.execute("SELECT why FROM moto_aside").fetchall()
        assert "entry bad" in why


def test_a_deleted_bucket_and_table_leave_nothing_behind(tmp_path: Path) -> None:
    with ServerThread(emulator_on(tmp_path)) as server:
        s3, ddb = aws(server, "s3"), aws(server, "dynamodb")
        s3.create_bucket(Bucket="gone")
        s3.put_object(Bucket="gone", Key="k", Body=b"v")
        s3.delete_object(Bucket="gone", Key="k")
        s3.delete_bucket(Bucket="gone")
        make_table(ddb, "gone")
        ddb.put_item(TableName="gone", Item={"id": {"S": "a"}})
        ddb.delete_table(TableName="gone")
        make_table(ddb, "gone")  # the same name again starts empty
    with sqlite3.connect(tmp_path / FILE_NAME) as db:  # (moto keeps a deleted object's tags: so do we)
        assert db.execute(
            "SELECT count(*) FROM moto_entries WHERE collection != '[\"tags\"]'"
        ).fetchone() == (0,)
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        assert aws(server, "s3").list_buckets()["Buckets"] == []
        assert aws(server, "dynamodb").scan(TableName="gone")["Items"] == []


def test_log_events_in_one_of_many_streams_save_that_stream_and_all_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = emulator_on(tmp_path)
    assert emulator.moto_saver is not None
    monkeypatch.setattr(emulator.moto_saver, "flush_due", lambda: None)  # only the requests' own saves
    now = int(time.time() * 1000)
    with ServerThread(emulator) as server:
        logs = aws(server, "logs")
        logs.create_log_group(logGroupName="/jobs")
        for number in range(200):
            logs.create_log_stream(logGroupName="/jobs", logStreamName=f"s{number}")
            logs.put_log_events(
                logGroupName="/jobs",
                logStreamName=f"s{number}",
                logEvents=[{"timestamp": now, "message": f"first of {number}" + "x" * 200}],
            )
        written = bytes_written_by(
            emulator,
            lambda: logs.put_log_events(
                logGroupName="/jobs",
                logStreamName="s7",
                logEvents=[{"timestamp": now + 1, "message": "again"}],
            ),
        )
        logs.delete_log_stream(logGroupName="/jobs", logStreamName="s9")
    assert written < 3_000  # the stream and its new event, not the 200 streams and their events
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        logs = aws(server, "logs")
        streams = logs.get_paginator("describe_log_streams").paginate(logGroupName="/jobs")
        names = {stream["logStreamName"] for page in streams for stream in page["logStreams"]}
        assert names == {f"s{number}" for number in range(200)} - {"s9"}
        got = logs.get_log_events(logGroupName="/jobs", logStreamName="s7", startFromHead=True)["events"]
        assert [event["message"] for event in got] == ["first of 7" + "x" * 200, "again"]
        logs.put_log_events(  # a stream that came back takes new events (its group is the live one)
            logGroupName="/jobs", logStreamName="s8", logEvents=[{"timestamp": now + 2, "message": "later"}]
        )
        got = logs.get_log_events(logGroupName="/jobs", logStreamName="s8", startFromHead=True)["events"]
        assert [event["message"] for event in got][-1] == "later"


def test_object_tags_acls_and_multipart_uploads_come_back_after_a_restart(tmp_path: Path) -> None:
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        s3.create_bucket(Bucket="tagged")
        s3.put_object(Bucket="tagged", Key="a", Body=b"a", Tagging="team=x")
        s3.put_object(Bucket="tagged", Key="b", Body=b"b")
        s3.put_object_tagging(Bucket="tagged", Key="b", Tagging={"TagSet": [{"Key": "team", "Value": "y"}]})
        s3.put_object_acl(Bucket="tagged", Key="b", ACL="public-read")  # changes the object in place
        upload = s3.create_multipart_upload(Bucket="tagged", Key="big")["UploadId"]
        s3.upload_part(Bucket="tagged", Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        assert s3.get_object_tagging(Bucket="tagged", Key="a")["TagSet"] == [{"Key": "team", "Value": "x"}]
        assert s3.get_object_tagging(Bucket="tagged", Key="b")["TagSet"] == [{"Key": "team", "Value": "y"}]
        grants = s3.get_object_acl(Bucket="tagged", Key="b")["Grants"]
        assert any(grant["Grantee"].get("URI", "").endswith("AllUsers") for grant in grants)
        parts = s3.list_parts(Bucket="tagged", Key="big", UploadId=upload)["Parts"]
        assert [part["PartNumber"] for part in parts] == [1]
        s3.complete_multipart_upload(
            Bucket="tagged",
            Key="big",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}]},
        )
        assert s3.get_object(Bucket="tagged", Key="big")["Body"].read() == b"p" * 10


def test_a_log_save_looks_at_the_streams_that_changed_also_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams say which of them changed (moto_log_streams.TrackedStreams): a save neither fingerprints
    nor pickles the others, in a group made before or loaded after a restart."""
    from batchemu import moto_parts

    looked: list[str] = []
    fingerprint = moto_parts.fingerprint
    monkeypatch.setattr(
        moto_parts,
        "fingerprint",
        lambda path, item: looked.append(item.log_stream_name) or fingerprint(path, item),
    )
    now = int(time.time() * 1000)

    def put(logs: Any, stream: str, message: str) -> None:
        logs.put_log_events(
            logGroupName="/jobs", logStreamName=stream, logEvents=[{"timestamp": now, "message": message}]
        )

    with ServerThread(emulator_on(tmp_path)) as server:
        logs = aws(server, "logs")
        logs.create_log_group(logGroupName="/jobs")
        for number in range(100):
            logs.create_log_stream(logGroupName="/jobs", logStreamName=f"s{number}")
            put(logs, f"s{number}", f"first of {number}")
        looked.clear()
        put(logs, "s7", "again")
        assert set(looked) == {"s7"}
    for round_ in (2, 3):  # the second restart reads what was written after the first
        restart_process()
        emulator = emulator_on(tmp_path)
        with ServerThread(emulator) as server:
            logs = aws(server, "logs")
            got = logs.get_log_events(logGroupName="/jobs", logStreamName="s7", startFromHead=True)["events"]
            assert [event["message"] for event in got] == ["first of 7", "again"]
            looked.clear()
            put(logs, "s8", f"after {round_}")
            logs.create_log_stream(logGroupName="/jobs", logStreamName=f"new{round_}")
            logs.delete_log_stream(logGroupName="/jobs", logStreamName=f"s{round_}")
            assert emulator.moto_saver is not None
            emulator.moto_saver.flush()
            assert set(looked) <= {"s8", f"new{round_}"}
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        logs = aws(server, "logs")
        streams = logs.get_paginator("describe_log_streams").paginate(logGroupName="/jobs")
        names = {stream["logStreamName"] for page in streams for stream in page["logStreams"]}
        assert names == {f"s{number}" for number in range(100)} - {"s2", "s3"} | {"new2", "new3"}
        got = logs.get_log_events(logGroupName="/jobs", logStreamName="s8", startFromHead=True)["events"]
        assert [event["message"] for event in got] == ["first of 8", "after 2", "after 3"]


def test_an_upload_part_writes_that_part_and_an_upload_goes_on_after_a_restart(tmp_path: Path) -> None:
    part = 5 * 1024 * 1024  # S3's smallest part but the last
    emulator = emulator_on(tmp_path)
    with ServerThread(emulator) as server:
        s3 = aws(server, "s3")
        s3.create_bucket(Bucket="parts")
        upload = s3.create_multipart_upload(Bucket="parts", Key="big")["UploadId"]
        written = [
            bytes_written_by(
                emulator,
                lambda number=number: s3.upload_part(
                    Bucket="parts", Key="big", UploadId=upload, PartNumber=number, Body=bytes([number]) * part
                ),
            )
            for number in range(1, 5)
        ]
        assert max(written) < 1.5 * part  # one part each, not every part so far
        s3.upload_part(Bucket="parts", Key="big", UploadId=upload, PartNumber=2, Body=b"R" * part)
    for number in (5, 6):  # a restart between parts
        restart_process()
        with ServerThread(emulator_on(tmp_path)) as server:
            s3 = aws(server, "s3")
            s3.upload_part(
                Bucket="parts",
                Key="big",
                UploadId=upload,
                PartNumber=number,
                Body=bytes([number]) * (part if number < 6 else 10),
            )
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        s3 = aws(server, "s3")
        parts = s3.list_parts(Bucket="parts", Key="big", UploadId=upload)["Parts"]
        assert [found["PartNumber"] for found in parts] == list(range(1, 7))
        assert [found["Size"] for found in parts] == [part] * 5 + [10]
        s3.complete_multipart_upload(
            Bucket="parts",
            Key="big",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
        )
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        body = aws(server, "s3").get_object(Bucket="parts", Key="big")["Body"].read()
        expected = b"".join(
            b"R" * part if number == 2 else bytes([number]) * (part if number < 6 else 10)
            for number in range(1, 7)
        )
        assert body == expected
        assert aws(server, "s3").list_multipart_uploads(Bucket="parts").get("Uploads", []) == []


def test_a_tables_stream_records_are_saved_as_they_are_added_and_come_back(tmp_path: Path) -> None:
    emulator = emulator_on(tmp_path)

    def put(ddb: Any, number: int) -> None:
        ddb.put_item(TableName="streamed", Item={"id": {"S": f"i{number}"}, "v": {"S": "x" * 500}})

    with ServerThread(emulator) as server:
        ddb = aws(server, "dynamodb")
        make_table(
            ddb,
            "streamed",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        first = bytes_written_by(emulator, lambda: put(ddb, 0))
        for number in range(1, 100):
            put(ddb, number)
        later = bytes_written_by(emulator, lambda: put(ddb, 100))
    assert later < 2 * first  # the item and its record, not the 100 records before it
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        put(aws(server, "dynamodb"), 101)
    restart_process()
    with ServerThread(emulator_on(tmp_path)) as server:
        streams = aws(server, "dynamodbstreams")
        arn = aws(server, "dynamodb").describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
        keys = [record["dynamodb"]["Keys"]["id"]["S"] for record in records]
        assert keys == [f"i{number}" for number in range(102)]

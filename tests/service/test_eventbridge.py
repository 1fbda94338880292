"""EventBridge and Batch, both ways, through the one endpoint: rules with a job-queue target submit jobs
(PutEvents and S3 notifications), and job state changes reach a user's rule (routed to SQS here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.integrations.eventbridge import transform
from batchemu.integrations.moto_events import RuleInfo
from tests.helpers import ACCOUNT, REGION, container, make_client, provision

ROLE = f"arn:aws:iam::{ACCOUNT}:role/events-submit-batch"
SOURCE = "my.app"


def aws(server: ServerThread, service: str):  # type: ignore[no-untyped-def]
    return make_client(server.endpoint, access_key=ACCOUNT, service=service)


def settle(emulator: Emulator, done: Callable[[], Any], deadline: float = 5.0) -> Any:
    """Runs the scheduler and the outbox until `done()` answers truthy. Normally one round suffices; the
    loop covers a task the outbox worker thread picked up just before flush() ran."""
    give_up = time.monotonic() + deadline
    while True:
        emulator.run_until_idle()
        emulator.flush()
        emulator.run_until_idle()
        result = done()
        if result or time.monotonic() > give_up:
            return result
        time.sleep(0.02)


@pytest.fixture
def events(server: ServerThread, emulator: Emulator) -> Iterator[Any]:
    """An EventBridge client; rules made in a test are deleted after it (moto's state outlives tests)."""
    client = aws(server, "events")
    yield client
    for rule in client.list_rules()["Rules"]:
        targets = client.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        if targets:
            client.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
        client.delete_rule(Name=rule["Name"])


@pytest.fixture
def sqs_queue(server: ServerThread) -> Iterator[tuple[Any, str, str]]:
    """(SQS client, queue URL, queue ARN), deleted after the test."""
    sqs = aws(server, "sqs")
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield sqs, url, arn
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def bucket(server: ServerThread) -> Iterator[str]:
    """An S3 bucket, emptied and deleted after the test (other tests list every bucket)."""
    s3 = aws(server, "s3")
    name = f"uploads-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def queue_arn(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    arn = provision(
        batch,
        definition="resize",
        properties=container(["resize", "Ref::S3bucket", "Ref::S3key"], memory=128),
        parameters={"S3bucket": "default-bucket", "S3key": "default-key"},
    )
    emulator.run_until_idle()
    return str(arn)


def add_rule(events: Any, pattern: dict[str, Any], *targets: dict[str, Any]) -> str:
    name = f"rule-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=list(targets))
    return name


def queue_target(queue_arn: str, **fields: Any) -> dict[str, Any]:
    batch_parameters = {"JobDefinition": "resize", "JobName": "from-events", **fields.pop("batch", {})}
    return {"Id": "batch", "Arn": queue_arn, "RoleArn": ROLE, "BatchParameters": batch_parameters, **fields}


def put_event(events: Any, detail: dict[str, Any], source: str = SOURCE) -> dict[str, Any]:
    return events.put_events(
        Entries=[{"Source": source, "DetailType": "Thing Happened", "Detail": json.dumps(detail)}]
    )


def jobs_in(batch: Any, emulator: Emulator, count: int = 1) -> list[dict[str, Any]]:
    """The jobs of queue q once `count` of them exist, described."""

    def listed() -> list[str]:
        ids = [
            summary["jobId"]
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
            for summary in batch.list_jobs(jobQueue="q", jobStatus=status)["jobSummaryList"]
        ]
        return ids if len(ids) >= count else []

    ids = settle(emulator, listed)
    assert len(ids) == count
    return list(batch.describe_jobs(jobs=ids)["jobs"])


def test_a_matching_event_submits_a_job_to_the_target_queue(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    add_rule(events, {"source": [SOURCE]}, queue_target(queue_arn))
    answer = put_event(events, {"anything": 1})
    assert answer["FailedEntryCount"] == 0
    [job] = jobs_in(batch, emulator)
    assert job["jobName"] == "from-events"
    assert job["jobQueue"] == queue_arn
    assert job["status"] == "SUCCEEDED"
    # the whole event as input carries no Parameters: the definition's defaults apply
    assert job["container"]["command"] == ["resize", "default-bucket", "default-key"]


def test_an_event_that_does_not_match_submits_nothing(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    add_rule(events, {"source": ["other.app"]}, queue_target(queue_arn))
    put_event(events, {"anything": 1})
    settle(emulator, lambda: False, deadline=0.2)
    assert batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"] == []


def test_a_disabled_rule_submits_nothing(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    name = add_rule(events, {"source": [SOURCE]}, queue_target(queue_arn))
    events.disable_rule(Name=name)
    put_event(events, {"anything": 1})
    settle(emulator, lambda: False, deadline=0.2)
    assert batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"] == []


def test_constant_input_gives_parameters_and_container_overrides(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    given = {
        "Parameters": {"S3bucket": "in-bucket", "S3key": "in/key.png"},
        "ContainerOverrides": {
            "Command": ["resize", "Ref::S3key", "--fast"],
            "Environment": [{"Name": "MODE", "Value": "thumb"}],
            "ResourceRequirements": [{"Type": "MEMORY", "Value": "256"}],
        },
    }
    add_rule(events, {"source": [SOURCE]}, queue_target(queue_arn, Input=json.dumps(given)))
    put_event(events, {"anything": 1})
    [job] = jobs_in(batch, emulator)
    assert job["parameters"] == {"S3bucket": "in-bucket", "S3key": "in/key.png"}
    assert job["container"]["command"] == ["resize", "in/key.png", "--fast"]
    assert {"name": "MODE", "value": "thumb"} in job["container"]["environment"]
    assert {"type": "MEMORY", "value": "256"} in job["container"]["resourceRequirements"]


def test_input_path_selects_part_of_the_event_as_input(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    add_rule(events, {"source": [SOURCE]}, queue_target(queue_arn, InputPath="$.detail.job"))
    put_event(events, {"job": {"Parameters": {"S3bucket": "from-path", "S3key": "k"}}})
    [job] = jobs_in(batch, emulator)
    assert job["parameters"] == {"S3bucket": "from-path", "S3key": "k"}


def test_input_transformer_quotes_strings_and_fills_placeholders(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    transformer = {
        "InputPathsMap": {
            "bucket": "$.detail.bucket.name",
            "key": "$.detail.object.key",
            "size": "$.detail.object.size",
        },
        "InputTemplate": '{"Parameters": {"S3bucket": <bucket>, "S3key": "uploads/<key>"}, '
        '"ContainerOverrides": {"Environment": [{"Name": "SIZE", "Value": <size>}, '
        '{"Name": "RULE", "Value": <aws.events.rule-name>}]}}',
    }
    name = add_rule(events, {"source": [SOURCE]}, queue_target(queue_arn, InputTransformer=transformer))
    put_event(events, {"bucket": {"name": "photos"}, "object": {"key": "cat.png", "size": 1234}})
    [job] = jobs_in(batch, emulator)
    assert job["parameters"] == {"S3bucket": "photos", "S3key": "uploads/cat.png"}
    environment = {item["name"]: item["value"] for item in job["container"]["environment"]}
    assert environment["SIZE"] == "1234"
    assert environment["RULE"] == name


def test_batch_parameters_give_array_size_and_retry_attempts(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    target = queue_target(queue_arn, batch={"ArrayProperties": {"Size": 3}, "RetryStrategy": {"Attempts": 2}})
    add_rule(events, {"source": [SOURCE]}, target)
    put_event(events, {"anything": 1})
    [job] = jobs_in(batch, emulator)
    assert job["arrayProperties"]["size"] == 3
    assert job["retryStrategy"]["attempts"] == 2
    assert job["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 3


def test_a_failing_target_stops_neither_put_events_nor_the_other_targets(  # type: ignore[no-untyped-def]
    sqs_queue, batch, emulator, events, queue_arn
) -> None:
    sqs, url, sqs_arn = sqs_queue
    unsupported = {"Id": "topic", "Arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"}
    bad_definition = queue_target(queue_arn, batch={"JobDefinition": "no-such-definition"})
    bad_definition["Id"] = "bad-batch"
    broken_template = queue_target(queue_arn, InputTransformer={"InputTemplate": '{"Parameters": '})
    broken_template["Id"] = "broken"
    add_rule(
        events,
        {"source": [SOURCE]},
        unsupported,
        bad_definition,
        broken_template,
        queue_target(queue_arn),
        {"Id": "sqs", "Arn": sqs_arn},
    )
    answer = put_event(events, {"anything": 1})
    assert answer["FailedEntryCount"] == 0
    assert len(jobs_in(batch, emulator)) == 1
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(messages[0]["Body"])["detail"] == {"anything": 1}


def test_an_s3_upload_with_eventbridge_enabled_submits_a_job(
    server, bucket, batch, emulator, events, queue_arn
) -> None:  # type: ignore[no-untyped-def]
    s3 = aws(server, "s3")
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    # The pattern and transformer AWS documents for S3 -> Batch
    transformer = {
        "InputPathsMap": {"S3BucketValue": "$.detail.bucket.name", "S3KeyValue": "$.detail.object.key"},
        "InputTemplate": '{"Parameters" : {"S3bucket": <S3BucketValue>, "S3key": <S3KeyValue>}}',
    }
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}},
    }
    add_rule(events, pattern, queue_target(queue_arn, InputTransformer=transformer))
    s3.put_object(Bucket=bucket, Key="images/cat.png", Body=b"png")
    [job] = jobs_in(batch, emulator)
    assert job["parameters"] == {"S3bucket": bucket, "S3key": "images/cat.png"}
    assert job["container"]["command"] == ["resize", bucket, "images/cat.png"]


def test_job_state_changes_reach_a_users_rule_routed_to_sqs(
    sqs_queue, batch, emulator, events, queue_arn
) -> None:  # type: ignore[no-untyped-def]
    sqs, url, sqs_arn = sqs_queue
    add_rule(
        events,
        {
            "source": ["aws.batch"],
            "detail-type": ["Batch Job State Change"],
            "detail": {"jobQueue": [queue_arn]},
        },
        {"Id": "sqs", "Arn": sqs_arn},
    )
    job_id = batch.submit_job(jobName="watched", jobQueue="q", jobDefinition="resize")["jobId"]
    received: list[dict[str, Any]] = []

    def all_arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return any(event["detail"]["status"] == "SUCCEEDED" for event in received)

    assert settle(emulator, all_arrived)
    assert [event["detail"]["status"] for event in received] == [
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    last = received[-1]
    assert last["source"] == "aws.batch"
    assert last["detail-type"] == "Batch Job State Change"
    assert last["resources"] == [last["detail"]["jobArn"]]
    assert last["detail"]["jobId"] == job_id
    assert last["detail"] == batch.describe_jobs(jobs=[job_id])["jobs"][0] | {"status": "SUCCEEDED"}


def test_a_job_that_can_never_fit_puts_a_queue_blocked_event(
    sqs_queue, batch, emulator, events, queue_arn
) -> None:  # type: ignore[no-untyped-def]
    sqs, url, sqs_arn = sqs_queue
    add_rule(
        events,
        {"source": ["aws.batch"], "detail-type": ["Batch Job Queue Blocked"]},
        {"Id": "sqs", "Arn": sqs_arn},
    )
    job_id = batch.submit_job(
        jobName="huge",
        jobQueue="q",
        jobDefinition="resize",
        containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "64"}]},
    )["jobId"]

    def arrived() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])

    [message] = settle(emulator, arrived)
    event = json.loads(message["Body"])
    assert event["resources"] == [event["detail"]["jobArn"], queue_arn]
    assert event["detail"]["jobId"] == job_id
    assert event["detail"]["statusReason"].startswith("MISCONFIGURATION:")


# -- the input transformer as AWS documents it (pure) ---------------------------------------------------
RULE = RuleInfo("r", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r", ACCOUNT, REGION, "2024-01-01T00:00:00Z")
EVENT = {"source": SOURCE, "detail": {"instance": "i-1", "status": "RUNNING", "n": 3, "tags": ["a"]}}
PATHS = {
    "instance": "$.detail.instance",
    "status": "$.detail.status",
    "n": "$.detail.n",
    "tag": "$.detail.tags[0]",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"i": <instance>, "n": <n>, "t": <tag>}', {"i": "i-1", "n": 3, "t": "a"}),
        ('{"s": "<instance> is in state \\"<status>\\""}', {"s": 'i-1 is in state "RUNNING"'}),
        ('{"undefined": "x<nope>y"}', {"undefined": "x<nope>y"}),
        ("<instance> is in state <status>", "i-1 is in state RUNNING"),
        (
            '{"rule": <aws.events.rule-name>, "at": "<aws.events.event.ingestion-time>"}',
            {"rule": "r", "at": "2024-01-01T00:00:00Z"},
        ),
    ],
)
def test_input_template_placeholders_follow_eventbridge_quoting(template: str, expected: Any) -> None:
    assert transform(RULE, {"InputPathsMap": PATHS, "InputTemplate": template}, EVENT) == expected


def test_a_path_missing_from_the_event_gives_null_or_empty_text() -> None:
    transformer = {
        "InputPathsMap": {"gone": "$.detail.gone"},
        "InputTemplate": '{"a": <gone>, "b": "x<gone>y"}',
    }
    assert transform(RULE, transformer, EVENT) == {"a": None, "b": "xy"}

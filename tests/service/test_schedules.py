"""EventBridge scheduled rules and EventBridge Scheduler schedules fire on the emulator's fake clock,
through unmodified boto3 on the one endpoint: job-queue, SQS and universal aws-sdk targets, DisableRule,
EndDate, ActionAfterCompletion, time zones, dead-letter queues, and the job storm that a pattern-less
scheduled rule used to cause."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, container, provision
from tests.service.test_eventbridge import ROLE, aws, put_event, queue_target, settle

SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
ALL_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


@pytest.fixture
def events(server: ServerThread, emulator: Emulator) -> Iterator[Any]:
    client = aws(server, "events")
    yield client
    for rule in client.list_rules()["Rules"]:
        targets = client.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        if targets:
            client.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
        client.delete_rule(Name=rule["Name"])


@pytest.fixture
def scheduler(server: ServerThread, emulator: Emulator) -> Iterator[Any]:
    client = aws(server, "scheduler")
    yield client
    for schedule in client.list_schedules()["Schedules"]:
        client.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])


@pytest.fixture
def sqs(server: ServerThread) -> Iterator[Any]:
    client = aws(server, "sqs")
    made: list[str] = []
    client.made = made  # type: ignore[attr-defined]
    yield client
    for url in made:
        client.delete_queue(QueueUrl=url)


def new_queue(sqs: Any) -> tuple[str, str]:
    """(URL, ARN) of a new SQS queue, deleted after the test."""
    url = sqs.create_queue(QueueName=f"sched-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.made.append(url)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue (read and deleted)."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def queue_arn(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    arn = provision(batch, definition="nightly", properties=container(["echo", "Ref::day"], memory=128))
    emulator.run_until_idle()
    return str(arn)


def job_ids(batch: Any) -> list[str]:
    return [
        summary["jobId"]
        for status in ALL_STATUSES
        for summary in batch.list_jobs(jobQueue="q", jobStatus=status)["jobSummaryList"]
    ]


def step(emulator: Emulator, seconds: float) -> None:
    """Moves the fake clock and lets timers, the scheduler and the outbox catch up."""
    emulator.advance(seconds)
    settle(emulator, lambda: False, deadline=0.05)


def seconds_until(emulator: Emulator, hour: int, zone: str = "UTC") -> float:
    """From the emulator's clock to the next hour:00 wall time in `zone`."""
    now = datetime.datetime.fromtimestamp(emulator.clock.now(), ZoneInfo(zone))
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target = (target + datetime.timedelta(days=1)).replace(hour=hour)
    return target.timestamp() - emulator.clock.now()


def iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- scheduled rules ---------------------------------------------------------------------------------
def test_a_cron_rule_with_a_job_queue_target_ignores_events_and_job_state_changes(  # type: ignore[no-untyped-def]
    batch, emulator, events, queue_arn
) -> None:
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[queue_target(queue_arn, batch={"JobDefinition": "nightly"})])
    assert put_event(events, {"anything": 1})["FailedEntryCount"] == 0
    job = batch.submit_job(jobName="by-hand", jobQueue="q", jobDefinition="nightly")
    settle(emulator, lambda: False, deadline=0.3)
    # one job: neither the event nor the job's own state-change events fired the rule
    assert job_ids(batch) == [job["jobId"]]


def test_a_cron_rule_fires_exactly_at_its_time(batch, emulator, events, queue_arn) -> None:  # type: ignore[no-untyped-def]
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[queue_target(queue_arn, batch={"JobDefinition": "nightly"})])
    step(emulator, seconds_until(emulator, 3) - 1)
    assert job_ids(batch) == []
    step(emulator, 1)
    [job_id] = settle(emulator, lambda: job_ids(batch))
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["jobName"] == "from-events"
    step(emulator, 3600)
    assert len(job_ids(batch)) == 1  # not again before tomorrow


def test_a_rate_rule_submits_a_job_each_minute_beside_working_put_events(  # type: ignore[no-untyped-def]
    batch, emulator, events, queue_arn, sqs
) -> None:
    events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    events.put_targets(
        Rule="every-minute", Targets=[queue_target(queue_arn, batch={"JobDefinition": "nightly"})]
    )
    url, arn = new_queue(sqs)
    events.put_rule(Name="pattern", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="pattern", Targets=[{"Id": "sqs", "Arn": arn}])
    for minute in range(1, 4):
        step(emulator, 60)
        assert len(settle(emulator, lambda m=minute: len(job_ids(batch)) >= m and job_ids(batch))) == minute
    put_event(events, {"n": 1})
    [message] = settle(emulator, lambda: received(sqs, url))
    assert json.loads(message["Body"])["detail"] == {"n": 1}
    assert len(job_ids(batch)) == 3  # the event fired only the pattern rule


def test_a_scheduled_event_reaches_an_sqs_target_in_aws_shape(emulator, events, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    rule_arn = events.put_rule(Name="five", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    created = emulator.clock.now()
    events.put_targets(Rule="five", Targets=[{"Id": "sqs", "Arn": arn}])
    step(emulator, 299)
    assert received(sqs, url) == []
    step(emulator, 1)
    [message] = settle(emulator, lambda: received(sqs, url))
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert event["time"] == iso(created + 300)


def test_missed_occurrences_fire_in_order_when_the_clock_jumps(emulator, events, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
    created = emulator.clock.now()
    events.put_targets(Rule="minutely", Targets=[{"Id": "sqs", "Arn": arn}])
    step(emulator, 600)
    messages = settle(emulator, lambda: (found := received(sqs, url)) and found)
    while len(messages) < 10:
        messages += settle(emulator, lambda: received(sqs, url), deadline=0.5) or []
    times = sorted(json.loads(message["Body"])["time"] for message in messages)
    assert times == [iso(created + 60 * k) for k in range(1, 11)]


def test_disable_rule_stops_it_and_enable_rule_resumes_it(emulator, events, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="minutely", Targets=[{"Id": "sqs", "Arn": arn}])
    step(emulator, 60)
    assert len(settle(emulator, lambda: received(sqs, url))) == 1
    events.disable_rule(Name="minutely")
    step(emulator, 180)
    assert received(sqs, url) == []
    events.enable_rule(Name="minutely")
    step(emulator, 60)
    assert len(settle(emulator, lambda: received(sqs, url))) == 1


def test_a_deleted_rule_fires_no_more(emulator, events, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="minutely", Targets=[{"Id": "sqs", "Arn": arn}])
    events.remove_targets(Rule="minutely", Ids=["sqs"])
    events.delete_rule(Name="minutely")
    step(emulator, 120)
    assert received(sqs, url) == []
    assert emulator.schedules is not None and emulator.schedules.armed() == {}


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(2 minute)", "cron(0 3 * * * *)", "cron(0 3 * *)"]
)
def test_put_rule_refuses_a_schedule_expression_aws_refuses(events, expression: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="bad", ScheduleExpression=expression)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."


def test_a_failing_rule_target_goes_to_its_dead_letter_queue(batch, emulator, events, queue_arn, sqs) -> None:  # type: ignore[no-untyped-def]
    url, dlq_arn = new_queue(sqs)
    rule_arn = events.put_rule(Name="broken", ScheduleExpression="rate(1 minute)")["RuleArn"]
    target = queue_target(queue_arn, batch={"JobDefinition": "no-such-definition"})
    events.put_targets(Rule="broken", Targets=[{**target, "DeadLetterConfig": {"Arn": dlq_arn}}])
    step(emulator, 60)
    [message] = settle(emulator, lambda: received(sqs, url))
    attributes = {key: value["StringValue"] for key, value in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == queue_arn
    assert attributes["ERROR_CODE"] == "NO_RESOURCE"  # the job definition does not exist
    assert json.loads(message["Body"])["detail-type"] == "Scheduled Event"
    assert job_ids(batch) == []


def test_a_rate_rule_starts_a_step_functions_execution(emulator, events, server) -> None:  # type: ignore[no-untyped-def]
    sfn = aws(server, "stepfunctions")
    machine = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:6]}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    try:
        events.put_rule(Name="sfn", ScheduleExpression="rate(1 minute)")
        events.put_targets(
            Rule="sfn", Targets=[{"Id": "m", "Arn": machine, "RoleArn": ROLE, "Input": '{"a": 1}'}]
        )
        step(emulator, 60)
        [execution] = settle(emulator, lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        assert json.loads(described["input"]) == {"a": 1}
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)


# -- EventBridge Scheduler -------------------------------------------------------------------------
def submit_job_target(input_: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob",
        "RoleArn": SCHEDULER_ROLE,
        "Input": json.dumps(input_),
        **extra,
    }


def at_expression(emulator: Emulator, seconds: float, zone: str = "UTC") -> str:
    moment = datetime.datetime.fromtimestamp(emulator.clock.now() + seconds, ZoneInfo(zone))
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def test_an_at_schedule_submits_a_job_with_its_tags_and_parameters_then_deletes_itself(  # type: ignore[no-untyped-def]
    batch, emulator, scheduler, queue_arn
) -> None:
    request = {
        "JobName": "scheduled",
        "JobQueue": "q",
        "JobDefinition": "nightly",
        "Parameters": {"day": "monday"},
        "Tags": {"Team": "data"},
        "ContainerOverrides": {"Environment": [{"Name": "MODE", "Value": "nightly"}]},
    }
    scheduler.create_schedule(
        Name="once",
        ScheduleExpression=at_expression(emulator, 120),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=submit_job_target(request),
        ActionAfterCompletion="DELETE",
    )
    step(emulator, 119)
    assert job_ids(batch) == []
    step(emulator, 1)
    [job_id] = settle(emulator, lambda: job_ids(batch))
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert job["jobName"] == "scheduled"
    assert job["tags"] == {"Team": "data"}
    assert job["parameters"]["day"] == "monday"
    assert {"name": "MODE", "value": "nightly"} in job["container"]["environment"]
    with pytest.raises(ClientError) as raised:
        scheduler.get_schedule(Name="once")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_one_time_schedule_without_delete_stays_and_fires_once(
    batch, emulator, scheduler, queue_arn
) -> None:  # type: ignore[no-untyped-def]
    target = submit_job_target({"JobName": "once", "JobQueue": "q", "JobDefinition": "nightly"})
    scheduler.create_schedule(
        Name="once",
        ScheduleExpression=at_expression(emulator, 60),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    step(emulator, 60)
    settle(emulator, lambda: job_ids(batch))
    step(emulator, 3600)
    assert len(job_ids(batch)) == 1
    assert scheduler.get_schedule(Name="once")["Name"] == "once"


def test_a_cron_schedule_in_new_york_fires_at_the_right_utc_instant(emulator, scheduler, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    wait = seconds_until(emulator, 9, "America/New_York")
    expected = emulator.clock.now() + wait
    scheduler.create_schedule(
        Name="morning",
        ScheduleExpression="cron(0 9 * * ? *)",
        ScheduleExpressionTimezone="America/New_York",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": SCHEDULER_ROLE, "Input": "fired <aws.scheduler.scheduled-time>"},
    )
    step(emulator, wait - 1)
    assert received(sqs, url) == []
    step(emulator, 1)
    [message] = settle(emulator, lambda: received(sqs, url))
    assert message["Body"] == f"fired {iso(expected)}"


def test_end_date_stops_a_rate_schedule(emulator, scheduler, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    now = emulator.clock.now()
    scheduler.create_schedule(
        Name="short",
        ScheduleExpression="rate(1 minute)",
        EndDate=datetime.datetime.fromtimestamp(now + 150, datetime.UTC),
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
        Target={"Arn": arn, "RoleArn": SCHEDULER_ROLE, "Input": "tick"},
    )
    step(emulator, 600)
    messages = settle(emulator, lambda: (found := received(sqs, url)) and found)
    messages += received(sqs, url)
    assert [message["Body"] for message in messages] == ["tick", "tick"]  # at +60 and +120


def test_a_disabled_schedule_does_not_fire(emulator, scheduler, sqs) -> None:  # type: ignore[no-untyped-def]
    url, arn = new_queue(sqs)
    scheduler.create_schedule(
        Name="off",
        ScheduleExpression="rate(1 minute)",
        State="DISABLED",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": SCHEDULER_ROLE, "Input": "tick"},
    )
    step(emulator, 180)
    assert received(sqs, url) == []


def test_a_failing_schedule_target_goes_to_its_dead_letter_queue(
    batch, emulator, scheduler, queue_arn, sqs
) -> None:  # type: ignore[no-untyped-def]
    url, dlq_arn = new_queue(sqs)
    body = {"JobName": "lost", "JobQueue": "no-such-queue", "JobDefinition": "nightly"}
    schedule_arn = scheduler.create_schedule(
        Name="broken",
        ScheduleExpression=at_expression(emulator, 60),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=submit_job_target(body, DeadLetterConfig={"Arn": dlq_arn}),
    )["ScheduleArn"]
    step(emulator, 60)
    [message] = settle(emulator, lambda: received(sqs, url))
    attributes = {key: value["StringValue"] for key, value in message["MessageAttributes"].items()}
    assert attributes["SCHEDULE_ARN"] == schedule_arn
    assert attributes["TARGET_ARN"] == "arn:aws:scheduler:::aws-sdk:batch:submitJob"
    assert attributes["ERROR_CODE"] == "ClientException"
    assert json.loads(message["Body"]) == body
    assert job_ids(batch) == []


def test_create_schedule_refuses_an_invalid_expression(scheduler) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as raised:
        scheduler.create_schedule(
            Name="bad",
            ScheduleExpression="every day",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:x", "RoleArn": SCHEDULER_ROLE},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "Invalid Schedule Expression every day."


def test_a_reset_drops_the_armed_timers(emulator, events) -> None:  # type: ignore[no-untyped-def]
    events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
    assert emulator.schedules is not None
    assert len(emulator.schedules.armed()) == 1
    emulator.reset()  # moto keeps the rule (only the admin route resets moto): it is re-armed afresh
    [(key, when)] = emulator.schedules.armed().items()
    assert when == pytest.approx(emulator.clock.now() + 60, abs=1)
    assert len(emulator.timers) == 1

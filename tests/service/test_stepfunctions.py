"""Step Functions executions drive batchemu's Batch through the one endpoint (moto's ASL interpreter, hooked in
integrations/moto_stepfunctions.py): submitJob and submitJob.sync, failures, Catch, Map, StopExecution,
timeouts, and Wait states on the emulator's fake clock."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, container, describe, make_client, provision

ROLE = f"arn:aws:iam::{ACCOUNT}:role/states-run-batch"
SUBMIT = "arn:aws:states:::batch:submitJob"
SUBMIT_SYNC = "arn:aws:states:::batch:submitJob.sync"


@pytest.fixture
def sfn(server: ServerThread, emulator: Emulator) -> Any:
    return make_client(server.endpoint, access_key=ACCOUNT, service="stepfunctions")


@pytest.fixture
def batch_account(server: ServerThread, emulator: Emulator) -> Any:
    """A Batch client of the account the state machines' role names (the executions act as it)."""
    batch = make_client(server.endpoint, access_key=ACCOUNT)
    provision(batch, definition="work", properties=container(["echo", "hi"]))
    batch.register_job_definition(
        jobDefinitionName="slow",
        type="container",
        containerProperties=container(["sleep", "3600"], environment=[simulate(seconds=3600)]),
    )
    batch.register_job_definition(
        jobDefinitionName="broken",
        type="container",
        containerProperties=container(["false"], environment=[simulate(exit_code=3)]),
    )
    return batch


def simulate(seconds: int | None = None, exit_code: int | None = None) -> dict[str, str]:
    if seconds is not None:
        return {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)}
    return {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)}


def start(sfn: Any, states: dict[str, Any], start_at: str, payload: Any = None, **machine: Any) -> str:
    definition = {"StartAt": start_at, "States": states, **machine}
    arn = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    return str(sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"])


def until(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Polls `check` (on the real clock: executions run on their own threads) until it answers truthy."""
    give_up = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.01)


def finished(sfn: Any, execution: str, seconds: float = 10.0) -> dict[str, Any]:
    described: dict[str, Any] = until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, seconds
    )
    return described


def history(sfn: Any, execution: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=execution)["events"])


def entered(sfn: Any, execution: str, event_type: str) -> bool:
    return any(event["type"] == event_type for event in history(sfn, execution))


def task(resource: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, **fields}


def test_a_sync_task_returns_the_finished_job_in_pascal_case(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    execution = start(
        sfn,
        {"Run": task(SUBMIT_SYNC, {"JobName": "j", "JobQueue": "q", "JobDefinition": "work"}, End=True)},
        "Run",
    )
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    job = json.loads(described["output"])
    assert job["Status"] == "SUCCEEDED"
    assert job["Container"]["ExitCode"] == 0
    assert job["Container"]["LogStreamName"].startswith("work/default/")
    assert job["Attempts"][0]["Container"]["ExitCode"] == 0
    assert describe(batch_account, job["JobId"])["status"] == "SUCCEEDED"
    types = [event["type"] for event in history(sfn, execution)]
    assert types.index("TaskScheduled") < types.index("TaskSubmitted") < types.index("TaskSucceeded")


def test_every_submit_job_parameter_is_passed_through_and_sync_marks_the_job(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    parameters = {
        "JobName": "full",
        "JobQueue": "q",
        "JobDefinition": "work",
        "Parameters": {"greeting": "hello"},
        "ContainerOverrides": {
            "Environment": [{"Name": "COLOUR", "Value": "blue"}],
            "Command": ["echo", "x"],
        },
        "RetryStrategy": {"Attempts": 3},
        "Timeout": {"AttemptDurationSeconds": 600},
        "Tags": {"team": "data"},
        "PropagateTags": True,
        "SchedulingPriorityOverride": 5,
    }
    execution = start(sfn, {"Run": task(SUBMIT_SYNC, parameters, End=True)}, "Run")
    job = describe(batch_account, json.loads(finished(sfn, execution)["output"])["JobId"])
    environment = {pair["name"]: pair["value"] for pair in job["container"]["environment"]}
    assert environment["COLOUR"] == "blue"
    assert environment["MANAGED_BY_AWS"] == "STARTED_BY_STEP_FUNCTIONS"
    assert job["container"]["command"] == ["echo", "x"]
    assert job["parameters"]["greeting"] == "hello"
    assert job["retryStrategy"]["attempts"] == 3
    assert job["timeout"]["attemptDurationSeconds"] == 600
    assert job["tags"] == {"team": "data"}
    assert job["propagateTags"] is True
    assert job["schedulingPriority"] == 5


def test_submit_job_without_sync_returns_at_once_with_the_job_ids(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    execution = start(
        sfn,
        {"Run": task(SUBMIT, {"JobName": "bg", "JobQueue": "q", "JobDefinition": "slow"}, End=True)},
        "Run",
    )
    output = json.loads(finished(sfn, execution)["output"])
    assert set(output) == {"JobArn", "JobId", "JobName"}
    assert output["JobName"] == "bg"
    assert "MANAGED_BY_AWS" not in {
        e["name"] for e in describe(batch_account, output["JobId"])["container"]["environment"]
    }
    assert describe(batch_account, output["JobId"])["status"] not in ("SUCCEEDED", "FAILED")


def test_a_failed_job_fails_the_task_with_the_job_as_cause_and_a_catch_reads_it(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Run": task(
            SUBMIT_SYNC,
            {"JobName": "bad", "JobQueue": "q", "JobDefinition": "broken"},
            Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Handled"}],
            End=True,
        ),
        "Handled": {
            "Type": "Pass",
            "Parameters": {"error.$": "$.failure.Error", "cause.$": "States.StringToJson($.failure.Cause)"},
            "End": True,
        },
    }
    output = json.loads(finished(sfn, start(sfn, states, "Run"))["output"])
    assert output["error"] == "States.TaskFailed"
    assert output["cause"]["Status"] == "FAILED"
    assert output["cause"]["Container"]["ExitCode"] == 3


def test_a_failed_job_without_catch_fails_the_execution(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Run": task(SUBMIT_SYNC, {"JobName": "bad", "JobQueue": "q", "JobDefinition": "broken"}, End=True)
    }
    described = finished(sfn, start(sfn, states, "Run"))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert json.loads(described["cause"])["Status"] == "FAILED"


def test_a_refused_submit_job_fails_the_task_with_the_batch_error_code(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Run": task(
            SUBMIT_SYNC, {"JobName": "x", "JobQueue": "no-such-queue", "JobDefinition": "work"}, End=True
        )
    }
    described = finished(sfn, start(sfn, states, "Run"))
    assert described["status"] == "FAILED"
    assert described["error"] == "Batch.ClientException"
    assert "no-such-queue" in described["cause"]
    assert "Service: AWSBatch; Status Code: 400; Error Code: ClientException" in described["cause"]


def test_a_map_state_runs_every_item_at_max_concurrency_and_collects_the_results(  # type: ignore[no-untyped-def]
    sfn, batch_account, emulator
) -> None:
    batch_account.register_job_definition(
        jobDefinitionName="minute",
        type="container",
        containerProperties=container(["echo", "Ref::item"], environment=[simulate(seconds=60)]),
    )
    states = {
        "Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 3,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Run",
                "States": {
                    "Run": task(
                        SUBMIT_SYNC,
                        {
                            "JobName": "item",
                            "JobQueue": "q",
                            "JobDefinition": "minute",
                            "Parameters": {"item.$": "$"},
                        },
                        ResultSelector={"item.$": "$.Parameters.item", "status.$": "$.Status"},
                        End=True,
                    )
                },
            },
            "End": True,
        }
    }
    execution = start(sfn, states, "Fan", {"items": ["a", "b", "c", "d"]})

    def listed() -> list[dict[str, Any]]:
        return list(
            batch_account.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["item"]}])[
                "jobSummaryList"
            ]
        )

    until(lambda: [j["status"] for j in listed()] == ["RUNNING"] * 3)
    time.sleep(0.2)  # a fourth SubmitJob, were Map to break MaxConcurrency, would show by now
    assert len(listed()) == 3
    emulator.advance(60)  # the first three end; the fourth starts
    until(lambda: sorted(j["status"] for j in listed()) == ["RUNNING", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"])
    emulator.advance(60)
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [{"item": item, "status": "SUCCEEDED"} for item in "abcd"]


def test_stop_execution_terminates_the_job_it_waits_for(sfn, batch_account, emulator) -> None:  # type: ignore[no-untyped-def]
    execution = start(
        sfn,
        {"Run": task(SUBMIT_SYNC, {"JobName": "long", "JobQueue": "q", "JobDefinition": "slow"}, End=True)},
        "Run",
    )
    job_id = until(
        lambda: json.loads(
            next(
                (
                    e["taskSubmittedEventDetails"]["output"]
                    for e in history(sfn, execution)
                    if e["type"] == "TaskSubmitted"
                ),
                "null",
            )
            or "null"
        )
    )["JobId"]
    until(lambda: describe(batch_account, job_id)["status"] == "RUNNING")
    sfn.stop_execution(executionArn=execution, error="Manual", cause="enough")
    job = until(lambda: (j := describe(batch_account, job_id))["status"] == "FAILED" and j)
    assert "was aborted" in job["statusReason"]
    assert execution in job["statusReason"]
    until(lambda: sfn.describe_execution(executionArn=execution)["status"] == "ABORTED")


def test_a_wait_state_of_an_hour_moves_only_with_the_fake_clock(sfn, batch_account, emulator) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    }
    execution = start(sfn, states, "Nap")
    until(lambda: entered(sfn, execution, "WaitStateEntered") and emulator.timers.next_due() is not None)
    time.sleep(0.2)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    emulator.advance(3599)
    emulator.run_until_idle()
    time.sleep(0.1)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    emulator.advance(1)
    assert finished(sfn, execution)["status"] == "SUCCEEDED"


def test_a_task_timeout_on_the_fake_clock_terminates_the_job(sfn, batch_account, emulator) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Run": task(
            SUBMIT_SYNC,
            {"JobName": "late", "JobQueue": "q", "JobDefinition": "slow"},
            TimeoutSeconds=300,
            End=True,
        )
    }
    execution = start(sfn, states, "Run")
    until(lambda: entered(sfn, execution, "TaskSubmitted"))
    job_id = json.loads(
        next(e for e in history(sfn, execution) if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"][
            "output"
        ]
    )["JobId"]
    until(lambda: describe(batch_account, job_id)["status"] == "RUNNING")
    emulator.advance(301)
    described = finished(sfn, execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    until(lambda: describe(batch_account, job_id)["status"] == "FAILED")


def test_retry_intervals_run_on_the_fake_clock(sfn, batch_account, emulator) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Run": task(
            SUBMIT_SYNC,
            {"JobName": "flaky", "JobQueue": "q", "JobDefinition": "broken"},
            Retry=[{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 600, "MaxAttempts": 1}],
            End=True,
        )
    }
    execution = start(sfn, states, "Run")
    until(lambda: len(batch_account.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]) == 1)
    until(lambda: emulator.timers.next_due() is not None)
    time.sleep(0.2)
    assert (
        len(batch_account.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]) == 1
    )  # still waiting
    emulator.advance(600)
    described = finished(sfn, execution)
    assert described["error"] == "States.TaskFailed"
    assert len(batch_account.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]) == 2


def test_an_execution_timeout_on_the_fake_clock_times_the_execution_out(sfn, batch_account, emulator) -> None:  # type: ignore[no-untyped-def]
    execution = start(
        sfn,
        {"Run": task(SUBMIT_SYNC, {"JobName": "late", "JobQueue": "q", "JobDefinition": "slow"}, End=True)},
        "Run",
        TimeoutSeconds=120,
    )
    until(lambda: entered(sfn, execution, "TaskSubmitted"))
    emulator.advance(121)
    assert finished(sfn, execution)["status"] == "TIMED_OUT"


def test_choice_parallel_and_intrinsic_functions_shape_the_batch_requests(sfn, batch_account) -> None:  # type: ignore[no-untyped-def]
    states = {
        "Pick": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.size", "NumericGreaterThan": 10, "Next": "Both"}],
            "Default": "Skip",
        },
        "Skip": {"Type": "Succeed"},
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": f"B{n}",
                    "States": {
                        f"B{n}": task(
                            SUBMIT_SYNC,
                            {
                                "JobName.$": f"States.Format('part-{n}-{{}}', $.size)",
                                "JobQueue": "q",
                                "JobDefinition": "work",
                            },
                            ResultSelector={"name.$": "$.JobName", "status.$": "$.Status"},
                            End=True,
                        )
                    },
                }
                for n in (1, 2)
            ],
            "End": True,
        },
    }
    output = json.loads(finished(sfn, start(sfn, states, "Pick", {"size": 42}))["output"])
    assert output == [
        {"name": "part-1-42", "status": "SUCCEEDED"},
        {"name": "part-2-42", "status": "SUCCEEDED"},
    ]


def test_other_service_tasks_reach_the_services_of_the_same_endpoint(sfn, batch_account, server) -> None:  # type: ignore[no-untyped-def]
    dynamodb = make_client(server.endpoint, access_key=ACCOUNT, service="dynamodb")
    sqs = make_client(server.endpoint, access_key=ACCOUNT, service="sqs")
    table = f"runs-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = sqs.create_queue(QueueName=f"done-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    states = {
        "Run": task(
            SUBMIT_SYNC,
            {"JobName": "j", "JobQueue": "q", "JobDefinition": "work"},
            ResultPath="$.job",
            Next="Record",
        ),
        "Record": task(
            "arn:aws:states:::dynamodb:putItem",
            {"TableName": table, "Item": {"id": {"S.$": "$.job.JobId"}, "status": {"S.$": "$.job.Status"}}},
            ResultPath=None,
            Next="Tell",
        ),
        "Tell": task(
            "arn:aws:states:::sqs:sendMessage",
            {"QueueUrl": queue_url, "MessageBody.$": "$.job.JobId"},
            End=True,
        ),
    }
    described = finished(sfn, start(sfn, states, "Run"))
    assert described["status"] == "SUCCEEDED", described
    job_id = sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"]
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": job_id}})["Item"]
    assert item["status"] == {"S": "SUCCEEDED"}


def test_an_express_workflow_answers_start_sync_execution_when_it_has_ended(server, batch_account) -> None:  # type: ignore[no-untyped-def]
    from botocore.config import Config

    # boto3 puts "sync-" before the endpoint's host for this operation; a local endpoint needs it off.
    sfn = make_client(server.endpoint, access_key=ACCOUNT, service="stepfunctions")
    sync = boto3_client_without_host_prefix(server.endpoint, Config(inject_host_prefix=False))
    definition = {
        "StartAt": "Submit",
        "States": {
            "Submit": task(SUBMIT, {"JobName": "express", "JobQueue": "q", "JobDefinition": "work"}, End=True)
        },
    }
    machine = sfn.create_state_machine(
        name=f"e-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    answer = sync.start_sync_execution(stateMachineArn=machine, input="{}")
    assert answer["status"] == "SUCCEEDED"
    assert ":express:" in answer["executionArn"]
    assert describe(batch_account, json.loads(answer["output"])["JobId"])["jobName"] == "express"


def test_start_sync_execution_refuses_a_standard_state_machine(server, sfn) -> None:  # type: ignore[no-untyped-def]
    from botocore.config import Config
    from botocore.exceptions import ClientError

    sync = boto3_client_without_host_prefix(server.endpoint, Config(inject_host_prefix=False))
    machine = sfn.create_state_machine(
        name=f"s-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    with pytest.raises(ClientError) as raised:
        sync.start_sync_execution(stateMachineArn=machine)
    assert raised.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def boto3_client_without_host_prefix(endpoint: str, config: Any) -> Any:
    import boto3

    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="testing",
        config=config,
    )


def test_a_distributed_map_reads_its_items_from_s3_and_a_nested_execution_runs_a_job(  # type: ignore[no-untyped-def]
    sfn, batch_account, server
) -> None:
    s3 = make_client(server.endpoint, access_key=ACCOUNT, service="s3")
    bucket = f"items-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="days.json", Body=json.dumps([{"day": 1}, {"day": 2}, {"day": 3}]))
    job = task(SUBMIT_SYNC, {"JobName": "dist", "JobQueue": "q", "JobDefinition": "work"}, ResultSelector={"status.$": "$.Status"}, End=True)
    child = sfn.create_state_machine(
        name=f"child-{uuid.uuid4().hex[:8]}", definition=json.dumps({"StartAt": "Job", "States": {"Job": job}}), roleArn=ROLE
    )["stateMachineArn"]
    states = {
        "Fan": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": bucket, "Key": "days.json"},
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Job",
                "States": {"Job": job},
            },
            "MaxConcurrency": 2,
            "ResultPath": "$.days",
            "Next": "Nested",
        },
        "Nested": task(
            "arn:aws:states:::states:startExecution.sync:2",
            {"StateMachineArn": child, "Input": {}},
            ResultSelector={"child.$": "$.Output"},
            ResultPath="$.nested",
            End=True,
        ),
    }
    output = json.loads(finished(sfn, start(sfn, states, "Fan"), 30)["output"])
    assert output["days"] == [{"status": "SUCCEEDED"}] * 3
    assert output["nested"] == {"child": {"status": "SUCCEEDED"}}
    assert len(batch_account.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["dist"]}])["jobSummaryList"]) == 4

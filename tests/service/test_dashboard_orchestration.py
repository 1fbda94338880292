"""The dashboard shows what drives Batch next to the jobs it started: a Step Functions execution links to its
jobs and a job to its execution; scheduled rules and Scheduler schedules are listed with their next firing
and the jobs they submitted."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, container, make_client, provision
from tests.service.test_dashboard import UI, get, summary


def until(check, seconds: float = 10.0):  # type: ignore[no-untyped-def]
    give_up = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.01)
    return result


def test_an_execution_and_its_job_link_to_each_other(server: ServerThread, emulator: Emulator) -> None:
    batch = make_client(server.endpoint, access_key=ACCOUNT)
    sfn = make_client(server.endpoint, access_key=ACCOUNT, service="stepfunctions")
    provision(batch, definition="work", properties=container(["echo", "hi"]))
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
        "Parameters": {"JobName": "linked", "JobQueue": "q", "JobDefinition": "work"}}}}
    machine = sfn.create_state_machine(
        name=f"dash-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="nightly-run")["executionArn"]
    until(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED")
    job_id = json.loads(sfn.describe_execution(executionArn=execution)["output"])["JobId"]

    listed = {e["executionArn"]: e for e in summary(server)["executions"]}
    assert listed[execution]["status"] == "SUCCEEDED" and listed[execution]["jobs"] == 1
    status, _, page = get(server, f"{UI}/executions/{urllib.parse.quote(execution, safe='')}")
    assert status == 200 and f"/jobs/{job_id}" in page and "TaskSucceeded" in page
    status, _, page = get(server, f"{UI}/jobs/{job_id}")
    assert status == 200 and 'id="started-by"' in page and "nightly-run" in page
    assert urllib.parse.quote(execution, safe="") in page


def test_scheduled_rules_and_schedules_are_listed_with_the_jobs_they_submitted(
    server: ServerThread, emulator: Emulator
) -> None:
    batch = make_client(server.endpoint, access_key=ACCOUNT)
    events = make_client(server.endpoint, access_key=ACCOUNT, service="events")
    queue = provision(batch, definition="work", properties=container(["echo", "hi"]))
    rule = f"hourly-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=rule, ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule=rule, Targets=[{
        "Id": "q", "Arn": queue, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "BatchParameters": {"JobDefinition": "work", "JobName": "hourly"}}])
    try:
        row = until(lambda: next((s for s in summary(server)["schedules"] if s["name"] == rule), None))
        assert row["expression"] == "rate(1 hour)" and row["next"] is not None and row["jobs"] == 0
        emulator.advance(3600)

        def submitted() -> list[dict]:
            emulator.run_until_idle()
            emulator.flush()
            return [s for s in summary(server)["schedules"] if s["name"] == rule and s["jobs"] == 1]

        until(submitted)
        (job,) = until(lambda: emulator.run_until_idle() and batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"])
        job_id = job["jobId"]
        status, _, page = get(server, f"{UI}/jobs/{job_id}")
        assert "EventBridge rule" in page and rule in page
        status, _, page = get(server, UI)
        assert 'id="schedules"' in page and rule in page
    finally:
        events.remove_targets(Rule=rule, Ids=["q"])
        events.delete_rule(Name=rule)

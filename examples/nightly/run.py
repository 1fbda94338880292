"""A nightly Batch job from an EventBridge scheduled rule, and a one-off job from an EventBridge Scheduler
schedule (universal target aws-sdk:batch:submitJob), against BATCHEMU_ENDPOINT (default
http://127.0.0.1:8000). On a fake-clock server it steps the clock to 03:00 UTC (seconds); on a real clock
the rule uses rate(1 minute) instead of cron(0 3 * * ? *) so it completes in about a minute.
Prints one JSON line; exit status 0 when both jobs SUCCEEDED."""

import datetime
import json
import os
import sys
import time
import urllib.request

import boto3

ENDPOINT = os.environ.get("BATCHEMU_ENDPOINT", "http://127.0.0.1:8000")
ACCOUNT, REGION = "123456789012", "us-east-1"
NIGHTLY = "cron(0 3 * * ? *)"


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id=ACCOUNT, aws_secret_access_key="testing")


def clock(advance=None):
    body = json.dumps({"advance": advance}).encode() if advance is not None else None
    request = urllib.request.Request(f"{ENDPOINT}/_batchemu/clock", data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


batch, events, scheduler = client("batch"), client("events"), client("scheduler")
if not batch.describe_compute_environments(computeEnvironments=["nightly"])["computeEnvironments"]:
    batch.create_compute_environment(
        computeEnvironmentName="nightly", type="MANAGED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                          "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"})
if not batch.describe_job_queues(jobQueues=["nightly"])["jobQueues"]:  # re-runnable: reuse what exists
    batch.create_job_queue(jobQueueName="nightly", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "nightly"}])
queue = batch.describe_job_queues(jobQueues=["nightly"])["jobQueues"][0]["jobQueueArn"]
batch.register_job_definition(
    jobDefinitionName="report", type="container", parameters={"day": "today"},
    containerProperties={"image": "batchemu-test/busybox:latest", "command": ["echo", "report for", "Ref::day"],
                         "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]})

now = clock()
expression = NIGHTLY if now["fake"] else "rate(1 minute)"
events.put_rule(Name="nightly-report", ScheduleExpression=expression)
events.put_targets(Rule="nightly-report", Targets=[{
    "Id": "queue", "Arn": queue, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events-batch",
    "BatchParameters": {"JobDefinition": "report", "JobName": "nightly-report"},
    "Input": json.dumps({"Parameters": {"day": "last night"}})}])

soon = datetime.datetime.fromtimestamp(now["now"] + 30, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
scheduler.create_schedule(
    Name="one-off-report", ScheduleExpression=f"at({soon})", FlexibleTimeWindow={"Mode": "OFF"},
    ActionAfterCompletion="DELETE",
    Target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
            "Input": json.dumps({"JobName": "one-off-report", "JobQueue": "nightly", "JobDefinition": "report",
                                 "Parameters": {"day": "the one-off"}, "Tags": {"made-by": "scheduler"}})})

if now["fake"]:  # step to 03:00 UTC (and past the one-off schedule) instead of waiting for it
    moment = datetime.datetime.fromtimestamp(now["now"], datetime.UTC)
    three = moment.replace(hour=3, minute=0, second=0, microsecond=0)
    three += datetime.timedelta(days=1) if three <= moment + datetime.timedelta(seconds=30) else datetime.timedelta()
    clock(30)
    clock(three.timestamp() - now["now"] - 30)


def jobs():
    found = {}
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        for job in batch.list_jobs(jobQueue="nightly", jobStatus=status)["jobSummaryList"]:
            if job["createdAt"] >= now["now"] * 1000:  # this run's, not an earlier run's
                found.setdefault(job["jobName"], job["status"])
    return found


deadline = time.time() + 120
while time.time() < deadline:
    seen = jobs()
    if seen.get("nightly-report") == seen.get("one-off-report") == "SUCCEEDED":
        break
    time.sleep(0.5)
deleted = "one-off-report" not in [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
ok = seen.get("nightly-report") == seen.get("one-off-report") == "SUCCEEDED" and deleted
print(json.dumps({"ok": ok, "rule": expression, "jobs": seen, "schedule_deleted": deleted}))
sys.exit(0 if ok else 1)

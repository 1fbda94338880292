"""A Step Functions workflow that fans out Batch jobs with a Map state and waits for them, against
BATCHEMU_ENDPOINT (default http://127.0.0.1:8000): one `.sync` job per shard, three at a time, then a
summary of their exit codes and log streams. Re-runnable: it reuses what a previous run created.
Prints one JSON line; exit status 0 when the execution SUCCEEDED.

    batchemu serve &                      # Docker runner when an engine answers, else simulated
    python examples/stepfunctions/run.py
"""

import json
import os
import sys
import time
import uuid

import boto3

ENDPOINT = os.environ.get("BATCHEMU_ENDPOINT", "http://127.0.0.1:8000")
ACCOUNT, REGION = "123456789012", "us-east-1"
IMAGE = os.environ.get("EXAMPLE_IMAGE", "batchemu-test/busybox")  # built by scripts/build-test-images
SHARDS = ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"]


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id=ACCOUNT, aws_secret_access_key="testing")


batch, sfn = client("batch"), client("stepfunctions")

if not batch.describe_compute_environments(computeEnvironments=["fanout"])["computeEnvironments"]:
    batch.create_compute_environment(
        computeEnvironmentName="fanout", type="MANAGED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                          "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"})
if not batch.describe_job_queues(jobQueues=["fanout"])["jobQueues"]:
    batch.create_job_queue(jobQueueName="fanout", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fanout"}])
batch.register_job_definition(  # a new revision each run is what AWS does too
    jobDefinitionName="process-day", type="container", parameters={"day": "unknown"},
    containerProperties={"image": IMAGE, "command": ["sh", "-c", "echo processing Ref::day; sleep 1"],
                         "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]})

definition = {
    "Comment": "One Batch job per day, three at a time; then a summary",
    "StartAt": "EachDay",
    "States": {
        "EachDay": {
            "Type": "Map",
            "ItemsPath": "$.days",
            "MaxConcurrency": 3,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "ProcessDay",
                "States": {
                    "ProcessDay": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::batch:submitJob.sync",
                        "Parameters": {
                            "JobName.$": "States.Format('process-{}', $)",
                            "JobQueue": "fanout",
                            "JobDefinition": "process-day",
                            "Parameters": {"day.$": "$"},
                        },
                        "ResultSelector": {"day.$": "$.Parameters.day", "exitCode.$": "$.Container.ExitCode",
                                           "logStream.$": "$.Container.LogStreamName"},
                        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}],
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.results",
            "Next": "Summary",
        },
        "Summary": {"Type": "Pass", "Parameters": {"days.$": "States.ArrayLength($.results)", "results.$": "$.results"},
                    "End": True},
    },
}
role = f"arn:aws:iam::{ACCOUNT}:role/states-batch"
machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
if "fanout" in machines:
    machine = machines["fanout"]
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(definition), roleArn=role)
else:
    machine = sfn.create_state_machine(name="fanout", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]

execution = sfn.start_execution(stateMachineArn=machine, name=f"run-{uuid.uuid4().hex[:8]}",
                                input=json.dumps({"days": SHARDS}))["executionArn"]
deadline = time.time() + 300
while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
    if time.time() > deadline:
        sys.exit(f"execution still RUNNING after 300 s: {execution}")
    time.sleep(0.2)

output = json.loads(described.get("output") or "{}")
print(json.dumps({"execution": execution, "status": described["status"], "days": output.get("days"),
                  "results": output.get("results"), "error": described.get("error")}))
sys.exit(0 if described["status"] == "SUCCEEDED" else 1)

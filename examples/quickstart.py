"""Create a compute environment, a queue and a job definition, submit a job and wait for SUCCEEDED.
Runs against BATCHEMU_ENDPOINT (default http://127.0.0.1:8000); the same code runs against AWS without it.
Each run uses names of its own, so it runs again and again against one server.

The job's image, batchemu-test/busybox:latest, is built offline by scripts/build-test-images; with an image
registry any image that has `echo` does (e.g. busybox). The simulated runner runs no image at all."""

import os
import time
import uuid

import boto3

endpoint = os.environ.get("BATCHEMU_ENDPOINT", "http://127.0.0.1:8000")
batch = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")

name = f"quickstart-{uuid.uuid4().hex[:8]}"
batch.create_compute_environment(
    computeEnvironmentName=name, type="MANAGED",
    computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                      "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"})
batch.create_job_queue(jobQueueName=name, priority=1,
                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
batch.register_job_definition(
    jobDefinitionName=name, type="container",
    containerProperties={"image": "batchemu-test/busybox:latest", "command": ["echo", "hello from batch"],
                         "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})
job_id = batch.submit_job(jobName="hello", jobQueue=name, jobDefinition=name)["jobId"]

deadline = time.time() + 60
while time.time() < deadline:
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    if job["status"] in ("SUCCEEDED", "FAILED"):
        break
    time.sleep(0.2)
print(job["jobName"], job["status"], job["createdAt"] <= job["startedAt"] <= job["stoppedAt"])
raise SystemExit(0 if job["status"] == "SUCCEEDED" else 1)

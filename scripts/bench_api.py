#!/usr/bin/env python
"""Benchmark (not a test): SubmitJob calls/s (1,000 sequential), DescribeJobs of 100 ids (ms per call) and
ListJobs over all jobs, through boto3 against ENDPOINT. Prints one JSON line.

    python scripts/bench_api.py http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import boto3
from botocore.config import Config


def client(endpoint: str, access_key: str = "testing", service: str = "batch"):  # type: ignore[no-untyped-def]
    """The benchmarks' one client: fixed region and keys, one attempt (no retries hiding errors)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def setup(batch, suffix: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"bench-ce-{suffix}",
        type="MANAGED",
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 256,
            "instanceTypes": ["optimal"],
            "subnets": ["subnet-1"],
            "securityGroupIds": ["sg-1"],
            "instanceRole": "ecsInstanceRole",
        },
    )
    return queue_and_definition(batch, ce["computeEnvironmentArn"], f"bench-q-{suffix}", f"bench-jd-{suffix}")


def queue_and_definition(batch, ce_arn: str, queue: str, definition: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A job queue on `ce_arn` and a trivial busybox job definition (1 vCPU, 128 MiB): their ARNs."""
    queue_arn = batch.create_job_queue(
        jobQueueName=queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}],
    )["jobQueueArn"]
    definition_arn = batch.register_job_definition(
        jobDefinitionName=definition,
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )["jobDefinitionArn"]
    return queue_arn, definition_arn


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("endpoint")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--describe-calls", type=int, default=50)
    args = parser.parse_args()
    batch = client(args.endpoint)
    queue, definition = setup(batch, uuid.uuid4().hex[:8])

    ids = []
    started = time.perf_counter()
    for index in range(args.jobs):
        ids.append(
            batch.submit_job(jobName=f"bench-{index}", jobQueue=queue, jobDefinition=definition)["jobId"]
        )
    submit_seconds = time.perf_counter() - started

    describe_ms = []
    for call in range(args.describe_calls):
        chunk = [ids[(call * 100 + i) % len(ids)] for i in range(100)]
        began = time.perf_counter()
        batch.describe_jobs(jobs=chunk)
        describe_ms.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    listed = 0
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
            listed += len(page["jobSummaryList"])
    list_ms = (time.perf_counter() - began) * 1000

    print(
        json.dumps(
            {
                "benchmark": "api",
                "endpoint": args.endpoint,
                "submit_jobs": args.jobs,
                "submit_calls_per_s": round(args.jobs / submit_seconds, 1),
                "describe_100_ms_median": round(statistics.median(describe_ms), 2),
                "describe_100_ms_p90": round(sorted(describe_ms)[int(len(describe_ms) * 0.9) - 1], 2),
                "list_all_jobs_ms": round(list_ms, 1),
                "jobs_listed": listed,
            }
        )
    )


if __name__ == "__main__":
    main()

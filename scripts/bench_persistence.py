#!/usr/bin/env python
"""The cost of durability per write (a benchmark, not a test; one JSON line per case):

    python scripts/bench_persistence.py [--calls 200] [--preload 1000] [--size 1024]

`batchemu serve --runner simulated` is started without and with `--state-dir`; for each, boto3 times
S3 PutObject (`--size` bytes), DynamoDB PutItem and Batch SubmitJob, `--calls` of each, first into an empty
bucket/table, then after `--preload` more objects and items (with --state-dir every write re-saves its
whole service: the cost grows with what the service holds). Prints median and p95 milliseconds per call,
and the state file's size at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

ACCOUNT = "123456789012"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="x",
    )


def timed(calls: int, call: Callable[[int], object]) -> dict[str, float]:
    took = []
    for number in range(calls):
        started = time.perf_counter()
        call(number)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "median_ms": round(statistics.median(took), 2),
        "p95_ms": round(took[int(len(took) * 0.95) - 1], 2),
    }


def provision(endpoint: str) -> None:
    batch = client(endpoint, "batch")
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    time.sleep(0.3)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    properties = {
        "image": "busybox",
        "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
    }
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=properties)
    client(endpoint, "s3").create_bucket(Bucket="bench")
    client(endpoint, "dynamodb").create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def run_cases(endpoint: str, args: argparse.Namespace, state: str, offset: int, label: str) -> None:
    s3, ddb, batch = client(endpoint, "s3"), client(endpoint, "dynamodb"), client(endpoint, "batch")
    body = os.urandom(args.size)
    cases = {
        "S3 PutObject": lambda n: s3.put_object(Bucket="bench", Key=f"k/{offset + n}", Body=body),
        "DynamoDB PutItem": lambda n: ddb.put_item(
            TableName="bench", Item={"id": {"S": f"i{offset + n}"}, "v": {"S": "x" * 100}}
        ),
        "Batch SubmitJob": lambda n: batch.submit_job(jobName=f"j{n}", jobQueue="q", jobDefinition="jd"),
    }
    for name, call in cases.items():
        print(
            json.dumps(
                {"state": state, "held": label, "call": name, "calls": args.calls, **timed(args.calls, call)}
            ),
            flush=True,
        )


def preload(endpoint: str, count: int, size: int) -> None:
    """Fills the bucket and table (timed writes are not what is measured here)."""
    s3, ddb = client(endpoint, "s3"), client(endpoint, "dynamodb")
    body = os.urandom(size)
    for n in range(count):
        s3.put_object(Bucket="bench", Key=f"pre/{n}", Body=body)
        ddb.put_item(TableName="bench", Item={"id": {"S": f"pre{n}"}, "v": {"S": "x" * 100}})


def one_server(args: argparse.Namespace, state_dir: str | None) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "batchemu",
        "serve",
        "--port",
        str(port),
        "--runner",
        "simulated",
        "--log-level",
        "WARNING",
    ]
    if state_dir:
        command += ["--state-dir", state_dir]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and "ready on" in server.stdout.readline()
        endpoint = f"http://127.0.0.1:{port}"
        state = "--state-dir" if state_dir else "memory"
        provision(endpoint)
        run_cases(endpoint, args, state, 0, "empty")
        preload(endpoint, args.preload, args.size)
        run_cases(endpoint, args, state, args.calls, f"{args.preload} objects + {args.preload} items")
        if state_dir:
            size = sum(p.stat().st_size for p in Path(state_dir).iterdir())
            print(json.dumps({"state": state, "state_dir_bytes": size}), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--preload", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    one_server(args, None)
    with tempfile.TemporaryDirectory() as state_dir:
        one_server(args, state_dir)


if __name__ == "__main__":
    main()

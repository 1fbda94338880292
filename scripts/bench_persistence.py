#!/usr/bin/env python
"""The cost of durability per write (a benchmark, not a test):

    python scripts/bench_persistence.py [--calls 200] [--held 0,1000,10000] [--runs 3] [--size 1024]

`batchemu serve --runner simulated` is started without and with `--state-dir`, `--runs` times each; boto3
times S3 PutObject (`--size` bytes), DynamoDB PutItem, a new log stream with its first events (CreateLogStream
+ PutLogEvents, as a job's log) and Batch SubmitJob, `--calls` of each, with the bucket, the table and the log
group holding each of `--held` objects, items and streams (filled between the measurements, untimed); then
boto3's upload_file of `--upload-mib` MiB (a multipart upload). Prints
one JSON line per run and case (median and p95 milliseconds per call), then a Markdown table: the median of
the runs' medians, and their spread (lowest-highest).
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
from concurrent.futures import ThreadPoolExecutor
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
    client(endpoint, "logs").create_log_group(logGroupName="bench")
    client(endpoint, "dynamodb").create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


CASES = ("S3 PutObject", "DynamoDB PutItem", "Logs CreateLogStream+PutLogEvents", "Batch SubmitJob")
Results = dict[tuple[str, int, str], list[float]]  # (state, held, call) -> each run's median


def run_cases(endpoint: str, args: argparse.Namespace, state: str, held: int, results: Results) -> None:
    s3, ddb, batch = client(endpoint, "s3"), client(endpoint, "dynamodb"), client(endpoint, "batch")
    logs = client(endpoint, "logs")
    body = os.urandom(args.size)
    calls: dict[str, Callable[[int], object]] = {
        "S3 PutObject": lambda n: s3.put_object(Bucket="bench", Key=f"timed/{held}/{n}", Body=body),
        "DynamoDB PutItem": lambda n: ddb.put_item(
            TableName="bench", Item={"id": {"S": f"timed/{held}/{n}"}, "v": {"S": "x" * 100}}
        ),
        "Logs CreateLogStream+PutLogEvents": lambda n: new_stream(logs, f"timed/{held}/{n}"),
        "Batch SubmitJob": lambda n: batch.submit_job(jobName=f"j{n}", jobQueue="q", jobDefinition="jd"),
    }
    for name in CASES:
        figures = timed(args.calls, calls[name])
        results.setdefault((state, held, name), []).append(figures["median_ms"])
        print(json.dumps({"state": state, "held": held, "call": name, **figures}), flush=True)


def new_stream(logs: Any, name: str) -> None:
    """A job's log, as a job writes it: a new stream and its first events."""
    logs.create_log_stream(logGroupName="bench", logStreamName=name)
    events = [{"timestamp": int(time.time() * 1000), "message": f"line {n} of {name}"} for n in range(10)]
    logs.put_log_events(logGroupName="bench", logStreamName=name, logEvents=events)


def fill(endpoint: str, start: int, stop: int, size: int) -> None:
    """Puts objects, items and log streams start..stop-1 into the bucket, table and log group (not
    timed), from 4 threads."""
    s3, ddb, logs = client(endpoint, "s3"), client(endpoint, "dynamodb"), client(endpoint, "logs")
    body = os.urandom(size)

    def one(n: int) -> None:
        s3.put_object(Bucket="bench", Key=f"held/{n}", Body=body)
        ddb.put_item(TableName="bench", Item={"id": {"S": f"held/{n}"}, "v": {"S": "x" * 100}})
        new_stream(logs, f"held/{n}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(start, stop)))


def one_server(args: argparse.Namespace, state_dir: str | None, results: Results) -> None:
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
        filled = 0
        for held in args.held:
            fill(endpoint, filled, held, args.size)
            filled = max(filled, held)
            run_cases(endpoint, args, state, held, results)
        if args.upload_mib:
            upload(endpoint, args.upload_mib, state, results)
        if state_dir:
            size = sum(p.stat().st_size for p in Path(state_dir).iterdir())
            print(json.dumps({"state": state, "state_dir_bytes": size}), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


UPLOAD = "S3 upload_file (multipart)"


def upload(endpoint: str, mib: int, state: str, results: Results) -> None:
    """boto3's upload_file of `mib` MiB: a multipart upload of 8 MiB parts, 10 threads (its defaults)."""
    with tempfile.NamedTemporaryFile() as file:
        file.write(os.urandom(mib * 1024 * 1024))
        file.flush()
        started = time.perf_counter()
        client(endpoint, "s3").upload_file(file.name, "bench", f"upload/{state}")
        took = time.perf_counter() - started
    results.setdefault((state, mib, UPLOAD), []).append(took * 1000)
    print(json.dumps({"state": state, "call": UPLOAD, "mib": mib, "s": round(took, 2)}), flush=True)


def table(results: Results, held: list[int], upload_mib: int = 0) -> str:
    lines = [
        "| call | objects/items held | memory: ms per call | --state-dir: ms per call |",
        "|---|---:|---:|---:|",
    ]
    for name in CASES:
        for count in held:
            cells = []
            for state in ("memory", "--state-dir"):
                medians = sorted(results.get((state, count, name), []))
                cells.append(
                    f"{statistics.median(medians):.1f} ({medians[0]:.1f}-{medians[-1]:.1f})"
                    if medians
                    else "-"
                )
            lines.append(f"| {name} | {count:,} | {cells[0]} | {cells[1]} |")
    if upload_mib:
        cells = []
        for state in ("memory", "--state-dir"):
            took = sorted(results.get((state, upload_mib, UPLOAD), []))
            cells.append(
                f"{statistics.median(took) / 1000:.1f} s ({took[0] / 1000:.1f}-{took[-1] / 1000:.1f})"
            )
        lines.append(f"| {UPLOAD} of {upload_mib} MiB | - | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--held", default="0,1000,10000", help="objects/items held at each measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--upload-mib", type=int, default=100, help="an upload_file of this size (0: none)")
    args = parser.parse_args()
    args.held = sorted(int(count) for count in args.held.split(","))
    results: Results = {}
    for _ in range(args.runs):
        one_server(args, None, results)
        with tempfile.TemporaryDirectory() as state_dir:
            one_server(args, state_dir, results)
    print(table(results, args.held, args.upload_mib))


if __name__ == "__main__":
    main()

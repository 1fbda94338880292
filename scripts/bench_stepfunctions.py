#!/usr/bin/env python
"""Benchmark (not a test): how long a Step Functions `.sync` Batch task takes to notice its job ended.

Against a `batchemu serve` subprocess (system clock), runs `--executions` executions of a one-state machine
`arn:aws:states:::batch:submitJob.sync` one after the other, and for each takes the time of the job's
terminal transition (GET /_batchemu/jobs/<id>/history, ms) and of the execution's TaskSucceeded and
ExecutionSucceeded history events. Prints one JSON line per runner with the median, p95 and max of
job-end -> TaskSucceeded and job-end -> ExecutionSucceeded (goal: < 0.2 s), and the whole execution time.

    python scripts/bench_stepfunctions.py [--runners simulated docker] [--executions 30]
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
import urllib.request
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
GOAL_SECONDS = 0.2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(endpoint: str, service: str) -> object:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="testing",
    )


def serve(runner: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "batchemu", "serve", "--runner", runner, "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_batchemu/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"batchemu serve did not answer; see {log}")


def terminal_at(endpoint: str, job_id: str) -> float:
    with urllib.request.urlopen(f"{endpoint}/_batchemu/jobs/{job_id}/history", timeout=5) as answer:
        history = json.load(answer)["history"]
    return float(next(row["at"] for row in history if row["status"] in ("SUCCEEDED", "FAILED"))) / 1000


def one_runner(runner: str, executions: int) -> dict[str, object]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        server = serve(runner, port, Path(folder) / "server.log")
        try:
            return measure(endpoint, runner, executions)
        finally:
            server.terminate()
            server.wait(timeout=30)


def measure(endpoint: str, runner: str, executions: int) -> dict[str, object]:
    batch, sfn = client(endpoint, "batch"), client(endpoint, "stepfunctions")
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")  # type: ignore[attr-defined]
    batch.create_job_queue(  # type: ignore[attr-defined]
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(  # type: ignore[attr-defined]
        jobDefinitionName="trivial",
        type="container",
        containerProperties={
            "image": "batchemu-test/busybox",
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": {"JobName": "bench", "JobQueue": "q", "JobDefinition": "trivial"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(  # type: ignore[attr-defined]
        name="bench", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )["stateMachineArn"]
    to_task, to_execution, whole = [], [], []
    for _ in range(executions):
        started = time.time()
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex)["executionArn"]  # type: ignore[attr-defined]
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":  # type: ignore[attr-defined]
            time.sleep(0.01)
        whole.append(time.time() - started)
        events = sfn.get_execution_history(executionArn=arn)["events"]  # type: ignore[attr-defined]
        stamps = {event["type"]: event["timestamp"].timestamp() for event in events}
        job_id = json.loads(described["output"])["JobId"]
        ended = terminal_at(endpoint, job_id)
        to_task.append(stamps["TaskSucceeded"] - ended)
        to_execution.append(stamps["ExecutionSucceeded"] - ended)
    return {
        "benchmark": "stepfunctions_sync",
        "runner": runner,
        "executions": executions,
        "job_end_to_task_succeeded_s": summary(to_task),
        "job_end_to_execution_succeeded_s": summary(to_execution),
        "execution_wall_s": summary(whole),
        "goal_s": GOAL_SECONDS,
        "met": max(to_execution) < GOAL_SECONDS,
        "load_average": os.getloadavg()[0],
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "max": round(ordered[-1], 4),
        "min": round(ordered[0], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", nargs="+", default=["simulated", "docker"])
    parser.add_argument("--executions", type=int, default=30)
    arguments = parser.parse_args()
    for runner in arguments.runners:
        print(json.dumps(one_runner(runner, arguments.executions)), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""How long batchemu takes to end (a benchmark, not a test; one JSON line per case, medians and maxima):

    python scripts/bench_shutdown.py [--runs 5] [--image IMAGE]

- process, docker: `batchemu serve --runner R` with one job RUNNING (`sleep 300`), SIGTERM, to the exit of
  the process; with its exit status and whether anything of the job was left (process, container).
- sidecar: `docker stop` of the sidecar image (idle), to its return; with the container's exit code.
  Skipped unless the image exists; by default the one tests/e2e/test_dockerfile.py built from this checkout
  (`batchemu:e2e-<hash of the checkout's path>`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_server(runner: str) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "batchemu", "serve", "--port", str(port), "--runner", runner],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None and "ready on" in server.stdout.readline()
    batch = boto3.client(
        "batch",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="x",
    )
    marker = f"{uuid.uuid4().int % 10**6}.5"
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=2)
    time.sleep(0.3)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={
            "image": "batchemu-test/busybox:latest",
            "command": ["sleep", marker],
            "vcpus": 1,
            "memory": 64,
        },
    )
    time.sleep(0.3)
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "RUNNING":
        time.sleep(0.1)
    time.sleep(0.5)
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    status = server.wait(timeout=60)
    seconds = time.monotonic() - started
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
    if runner == "docker":
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=batchemu.job-id={job_id}"],
            capture_output=True,
            text=True,
        ).stdout.split()
    return {"seconds": seconds, "status": status, "left": len(left)}


def one_sidecar(image: str) -> dict:
    port = free_port()
    container = subprocess.run(
        ["docker", "run", "-d", "--network", "host", "-e", f"BATCHEMU_PORT={port}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while (
            "ready on"
            not in subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
        ):
            assert time.monotonic() < deadline, "the sidecar never got ready"
            time.sleep(0.2)
        started = time.monotonic()
        subprocess.run(["docker", "stop", container], capture_output=True, check=True)
        seconds = time.monotonic() - started
        code = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.ExitCode}}", container], capture_output=True, text=True
        ).stdout.strip()
        return {"seconds": seconds, "status": int(code), "left": 0}
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def summary(case: str, results: list[dict]) -> dict:
    seconds = [result["seconds"] for result in results]
    return {
        "benchmark": f"shutdown-{case}",
        "runs": len(results),
        "exit_seconds_median": round(statistics.median(seconds), 2),
        "exit_seconds_max": round(max(seconds), 2),
        "exit_statuses": sorted({result["status"] for result in results}),
        "left_behind": sum(result["left"] for result in results),
        "target": "status 0 within 5 s, nothing left",
        "met": max(seconds) < 5 and all(r["status"] == 0 and r["left"] == 0 for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    checkout = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:8]
    parser.add_argument("--image", default=f"batchemu:e2e-{checkout}")
    parser.add_argument("cases", nargs="*", default=["process", "docker", "sidecar"])
    args = parser.parse_args()
    for case in args.cases:
        if case == "sidecar":
            found = subprocess.run(["docker", "image", "inspect", args.image], capture_output=True)
            if found.returncode != 0:
                print(json.dumps({"benchmark": "shutdown-sidecar", "skipped": f"no image {args.image}"}))
                continue
            results = [one_sidecar(args.image) for _ in range(args.runs)]
        else:
            results = [one_server(case) for _ in range(args.runs)]
        print(json.dumps(summary(case, results)), flush=True)


if __name__ == "__main__":
    main()

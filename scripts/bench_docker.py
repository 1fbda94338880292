#!/usr/bin/env python
"""Benchmark (not a test) of the docker runner, all in one run: (a) the median submit-to-SUCCEEDED wall
time of a trivial job (busybox `true`) through boto3 against a served emulator, (b) the median wall time of
a raw `docker run --rm` of the same container, and their ratio (aim <= 1.3); (c) the wall time from the
first submit to all SUCCEEDED of 20 `sleep 1` jobs submitted at once. Prints one JSON line.

    python scripts/bench_docker.py [--runs 10] [--concurrent 20]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_api import client  # scripts/ is on sys.path when a script runs

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

ROOT = Path(__file__).resolve().parents[1]
BUSYBOX = "batchemu-test/busybox:latest"
POLL_SECONDS = 0.01


def ensure_engine_and_images() -> None:
    """Starts a Docker engine when none answers and builds the test images when missing (both idempotent);
    their chatter goes to stderr so stdout keeps the one JSON line."""
    for script in ("docker-setup", "build-test-images"):
        subprocess.run([str(ROOT / "scripts" / script)], check=True, stdout=sys.stderr, timeout=1200)


def batch_client(endpoint: str):  # type: ignore[no-untyped-def]
    return client(endpoint, access_key="123456789012")


def set_up(batch, max_vcpus: int) -> str:  # type: ignore[no-untyped-def]
    """A compute environment, a queue, and the two job definitions; returns the queue name."""
    batch.create_compute_environment(
        computeEnvironmentName="bench-ce",
        type="MANAGED",
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": max_vcpus,
            "instanceTypes": ["optimal"],
            "subnets": ["subnet-1"],
            "securityGroupIds": ["sg-1"],
            "instanceRole": "ecsInstanceRole",
        },
    )
    batch.create_job_queue(
        jobQueueName="bench-q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "bench-ce"}],
    )
    for name, command in (("trivial", ["true"]), ("sleep-one", ["sleep", "1"])):
        batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            containerProperties={
                "image": BUSYBOX,
                "command": command,
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}],
            },
        )
    return "bench-q"


def wait_all_succeeded(batch, job_ids: list[str], deadline: float = 120) -> None:  # type: ignore[no-untyped-def]
    pending = set(job_ids)
    give_up = time.monotonic() + deadline
    while pending:
        if time.monotonic() > give_up:
            raise SystemExit(f"{len(pending)} jobs did not succeed within {deadline}s")
        for start in range(0, len(job_ids), 100):
            for job in batch.describe_jobs(jobs=sorted(pending)[start : start + 100])["jobs"]:
                if job["status"] == "FAILED":
                    raise SystemExit(f"job {job['jobId']} failed: {job.get('statusReason')}")
                if job["status"] == "SUCCEEDED":
                    pending.discard(job["jobId"])
        time.sleep(POLL_SECONDS)


def one_emulated_job(batch, queue: str) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    job_id = batch.submit_job(jobName="trivial", jobQueue=queue, jobDefinition="trivial")["jobId"]
    wait_all_succeeded(batch, [job_id])
    return time.perf_counter() - began


def one_raw_docker_run() -> float:
    began = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", BUSYBOX, "true"], check=True, capture_output=True)
    return time.perf_counter() - began


def concurrent_jobs(batch, queue: str, count: int) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    job_ids = [
        batch.submit_job(jobName=f"sleep-{n}", jobQueue=queue, jobDefinition="sleep-one")["jobId"]
        for n in range(count)
    ]
    wait_all_succeeded(batch, job_ids)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=20)
    options = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    ensure_engine_and_images()
    with ServerThread(Emulator(Settings(runner="docker"))) as server:
        batch = batch_client(server.endpoint)
        queue = set_up(batch, max_vcpus=max(64, options.concurrent))
        one_emulated_job(batch, queue), one_raw_docker_run()  # warm-up: first-use costs of both paths
        emulated, raw = [], []
        for _ in range(options.runs):  # interleaved, so drift on the machine weighs on both alike
            emulated.append(one_emulated_job(batch, queue))
            raw.append(one_raw_docker_run())
        concurrent_seconds = concurrent_jobs(batch, queue, options.concurrent)
    emulated_median, raw_median = statistics.median(emulated), statistics.median(raw)
    print(
        json.dumps(
            {
                "runs": options.runs,
                "emulated_job_median_s": round(emulated_median, 3),
                "raw_docker_run_median_s": round(raw_median, 3),
                "ratio": round(emulated_median / raw_median, 2),
                "concurrent_jobs": options.concurrent,
                "concurrent_sleep_1_wall_s": round(concurrent_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

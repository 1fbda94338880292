#!/usr/bin/env python
"""Benchmark (not a test) of the scheduler and the store, in-process on the simulated runner:

- `array`: one 10,000-child array job (zero duration), time from SubmitJob to the parent SUCCEEDED;
- `scale`: SubmitJob and DescribeJobs(100) latency through boto3 with 1,000 vs 100,000 finished jobs stored.

Prints one JSON line per sub-benchmark.

    python scripts/bench_scheduler.py [--array-size 10000] [--stored 1000 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench_api import client  # scripts/ is on sys.path when a script runs

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

COMPUTE = {
    "type": "EC2",
    "minvCpus": 0,
    "maxvCpus": 10_000,
    "instanceTypes": ["optimal"],
    "subnets": ["subnet-1"],
    "securityGroupIds": ["sg-1"],
    "instanceRole": "ecsInstanceRole",
}
CONTAINER = {
    "image": "busybox",
    "command": ["true"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
}


def setup(batch) -> None:  # type: ignore[no-untyped-def]
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=COMPUTE)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=CONTAINER)


def wait_for(batch, job_id: str, deadline_s: float = 600) -> str:  # type: ignore[no-untyped-def]
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if status in ("SUCCEEDED", "FAILED"):
            return status
        time.sleep(0.02)
    return "TIMEOUT"


def bench_array(size: int) -> dict:
    with ServerThread(Emulator(Settings(runner="simulated", tick_interval=0.01))) as server:
        batch = client(server.endpoint)
        setup(batch)
        time.sleep(0.2)  # let the compute environment and queue become VALID
        began = time.perf_counter()
        job_id = batch.submit_job(
            jobName="array", jobQueue="q", jobDefinition="jd", arrayProperties={"size": size}
        )["jobId"]
        status = wait_for(batch, job_id)
        seconds = time.perf_counter() - began
    return {
        "benchmark": "array",
        "size": size,
        "status": status,
        "submit_to_parent_done_s": round(seconds, 2),
    }


def store_jobs(emulator: Emulator, count: int) -> None:
    """Fills the store through the handlers (not HTTP), then lets every job finish."""
    from batchemu.service.job_submission import submit_job
    from batchemu.service.operation import RequestContext

    backend = emulator.store.backend("123456789012", "us-east-1")
    ctx = RequestContext("123456789012", "us-east-1", "bench", backend, emulator.clock)
    request = {"job_name": "filler", "job_queue": "q", "job_definition": "jd"}
    with emulator.store.lock:
        for _ in range(count):
            submit_job(ctx, request)
    emulator.run_until_idle()


def latency(batch, samples: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    submit_ms, describe_ms, ids = [], [], []
    for index in range(samples):
        began = time.perf_counter()
        ids.append(batch.submit_job(jobName=f"s{index}", jobQueue="q", jobDefinition="jd")["jobId"])
        submit_ms.append((time.perf_counter() - began) * 1000)
    chunk = (ids * 100)[:100]
    for _ in range(samples // 4):
        began = time.perf_counter()
        batch.describe_jobs(jobs=chunk)
        describe_ms.append((time.perf_counter() - began) * 1000)
    return statistics.median(submit_ms), statistics.median(describe_ms)


def bench_scale(stored: list[int], samples: int) -> dict:
    result: dict = {"benchmark": "scale", "samples": samples}
    for count in stored:
        emulator = Emulator(Settings(runner="simulated"))
        with ServerThread(emulator) as server:
            batch = client(server.endpoint)
            setup(batch)
            emulator.run_until_idle()
            store_jobs(emulator, count)
            submit, describe = latency(batch, samples)
        result[f"submit_ms_median_{count}"] = round(submit, 3)
        result[f"describe100_ms_median_{count}"] = round(describe, 3)
    first, last = stored[0], stored[-1]
    result["submit_ratio"] = round(
        result[f"submit_ms_median_{last}"] / result[f"submit_ms_median_{first}"], 3
    )
    result["describe_ratio"] = round(
        result[f"describe100_ms_median_{last}"] / result[f"describe100_ms_median_{first}"], 3
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--array-size", type=int, default=10_000)
    parser.add_argument("--stored", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--only", choices=["array", "scale"])
    args = parser.parse_args()
    if args.only in (None, "array"):
        print(json.dumps(bench_array(args.array_size)), flush=True)
    if args.only in (None, "scale"):
        print(json.dumps(bench_scale(args.stored, args.samples)), flush=True)


if __name__ == "__main__":
    main()

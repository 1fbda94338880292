#!/usr/bin/env python
"""Benchmark (not a test) of `--runner swarm` (issue 14): the wall time of N one-second jobs (1 vCPU,
32 MiB each) from the first SubmitJob to the last SUCCEEDED, on a 1-node and on a 3-node local swarm
(scripts/local-swarm; every node offers the same vCPUs, this machine's). Prints one JSON line. Needs root.

    python scripts/bench_swarm.py [--jobs 60] [--nodes 1 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from batchemu import Emulator, ServerThread  # noqa: E402
from batchemu.config import Settings  # noqa: E402
from tests.helpers import ACCOUNT, container, make_client, provision  # noqa: E402

BUSYBOX = "batchemu-test/busybox:latest"
SWARM = {
    **os.environ,
    "BATCHEMU_SWARM_PREFIX": "bbench",
    "BATCHEMU_SWARM_DIR": "/tmp/batchemu-swarm-bench",
    "BATCHEMU_SWARM_SUBNET": "10.213.250",
}
HOST_IP = "10.213.250.1"


def local_swarm(*arguments: str) -> str:
    done = subprocess.run(
        [str(HERE / "local-swarm"), *arguments], env=SWARM, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"local-swarm {' '.join(arguments)} failed:\n{done.stderr}")
    return done.stdout


def run_jobs(nodes: int, jobs: int) -> dict[str, float]:
    local_swarm("down")
    docker_host = local_swarm("up", str(nodes)).strip().splitlines()[-1].split("=", 1)[1]
    try:
        local_swarm("load", BUSYBOX)
        settings = Settings(runner="swarm", docker_host=docker_host)
        with ServerThread(Emulator(settings), host=HOST_IP) as server:
            batch = make_client(server.endpoint, access_key=ACCOUNT)
            provision(batch, ce="bench-ce", queue="bench", max_vcpus=256)
            while batch.describe_job_queues(jobQueues=["bench"])["jobQueues"][0]["status"] != "VALID":
                time.sleep(0.05)
            properties = container(["sleep", "1"], vcpus=1, memory=32, image=BUSYBOX)
            batch.register_job_definition(
                jobDefinitionName="one-second", type="container", containerProperties=properties
            )
            per_node = [host.vcpus for host in server.emulator.runner.capacity("bench-ce")]  # type: ignore[attr-defined]
            began = time.perf_counter()
            ids = [
                batch.submit_job(jobName=f"j{index}", jobQueue="bench", jobDefinition="one-second")["jobId"]
                for index in range(jobs)
            ]
            statuses = _wait(batch, ids)
            seconds = time.perf_counter() - began
    finally:
        local_swarm("down")
    return {
        "seconds": round(seconds, 1),
        "per_node_vcpus": per_node,
        "succeeded": statuses.count("SUCCEEDED"),
    }


def _wait(batch: object, ids: list[str], deadline_s: float = 600) -> list[str]:
    give_up = time.monotonic() + deadline_s
    while True:
        statuses = []
        for start in range(0, len(ids), 100):
            found = batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]  # type: ignore[attr-defined]
            statuses += [job["status"] for job in found]
        if all(status in ("SUCCEEDED", "FAILED") for status in statuses) or time.monotonic() > give_up:
            return statuses
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_swarm.py needs root (scripts/local-swarm makes namespaces and a bridge)")
    runs = {f"{nodes}_node{'s' if nodes > 1 else ''}": run_jobs(nodes, args.jobs) for nodes in args.nodes}
    line: dict[str, object] = {
        "benchmark": "swarm",
        "jobs": args.jobs,
        "job": "sleep 1, 1 vCPU, 32 MiB",
        **runs,
    }
    if len(args.nodes) == 2:
        first, second = (runs[key]["seconds"] for key in runs)
        line["speedup"] = round(first / second, 2) if second else None
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()

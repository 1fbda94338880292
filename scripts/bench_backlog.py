#!/usr/bin/env python
"""The `backlog` benchmark of scripts/bench.py (issue 13): whether the cost of a call grows with the jobs
that wait. Three parts, each against `batchemu serve --runner simulated` subprocesses:

- backlog: two servers side by side, one with an empty queue and one with 20,000 RUNNABLE jobs (a MANAGED
  compute environment with maxvCpus 1, jobs of BATCHEMU_SIMULATE_SECONDS=1e6); SubmitJob calls/s in
  alternating blocks, DescribeJobs(100) and a ListJobs page (100 RUNNABLE) on both;
- arrays: ten 10,000-child array jobs (children of 0 s) on a compute environment with maxvCpus 256: time
  from the last SubmitJob to every parent SUCCEEDED, and the server's memory (VmRSS once they are done,
  VmHWM its peak). 100,000 children in all: AWS caps one array at 10,000 (SubmitJob refuses more, here
  too), so this is also issue 21's "100,000-child" case;
- moto: batchemu and `python -m moto.server` (Batch use_docker false) side by side, SubmitJob calls/s in
  three scenarios (jobs that finish at once, jobs piling up on an UNMANAGED compute environment, a starved
  MANAGED one), and 16 concurrent client processes in aggregate.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_api import client, queue_and_definition  # noqa: E402
from bench_common import (  # noqa: E402  (shared with bench.py)
    free_port,
    http_status,
    process,
    serve_command,
    setup_side,
    wait_until_answers,
)

LONG = "1000000"  # seconds: a job that never ends within the benchmark
TARGETS = {
    "submit_rate_20k_vs_0_min_ratio": 0.8,
    "describe_list_20k_vs_0_max_ratio": 1.2,
    "ten_arrays_last_submit_to_succeeded_s_max": 7.0,  # issue 21 goal 3 (15 s in issue 13)
    "submit_rate_vs_moto_min_ratio": 2.0,
}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def setup_batchemu(batch, name: str, max_vcpus: int | None, seconds: str, unmanaged: bool = False):  # type: ignore[no-untyped-def]
    """A compute environment, queue and job definition named `name` on a batchemu server."""
    if unmanaged:
        ce = batch.create_compute_environment(computeEnvironmentName=f"{name}-ce", type="UNMANAGED")
    else:
        ce = batch.create_compute_environment(
            computeEnvironmentName=f"{name}-ce",
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
    wait_valid(batch, ce["computeEnvironmentArn"])
    queue = batch.create_job_queue(
        jobQueueName=f"{name}-q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"{name}-jd",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
            "environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": seconds}],
        },
    )["jobDefinitionArn"]
    time.sleep(0.2)
    return queue, definition


def wait_valid(batch, arn: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        found = batch.describe_compute_environments(computeEnvironments=[arn])["computeEnvironments"]
        if found and found[0]["status"] == "VALID":
            return
        time.sleep(0.05)


@contextlib.contextmanager
def serve(tmp: Path, name: str, log_level: str = "INFO", pids: list[int] | None = None):  # type: ignore[no-untyped-def]
    """A `batchemu serve` subprocess for the block; its URL, and its pid appended to `pids`."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with process(serve_command(port, log_level), tmp / f"{name}.stderr", env) as child:
        if pids is not None:
            pids.append(child.pid)
        wait_until_answers(port, "/_batchemu/health")
        yield f"http://127.0.0.1:{port}"


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak) of a process, in MiB, from /proc (Linux); {} elsewhere."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[f"{key}_mib"] = round(int(value.split()[0]) / 1024, 1)
    return found


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process in seconds, from /proc/<pid>/stat (Linux); None elsewhere."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    return None


def submit_block(batch, queue: str, definition: str, count: int, latencies: list[float]) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    for index in range(count):
        call = time.perf_counter()
        batch.submit_job(jobName=f"b{index}", jobQueue=queue, jobDefinition=definition)
        latencies.append((time.perf_counter() - call) * 1000)
    return time.perf_counter() - began


def fill(endpoint: str, queue: str, definition: str, count: int, threads: int = 8) -> float:
    def worker(share: int) -> None:
        batch = client(endpoint)
        for index in range(share):
            batch.submit_job(jobName=f"fill{index}", jobQueue=queue, jobDefinition=definition)

    began = time.perf_counter()
    workers = [
        threading.Thread(target=worker, args=(count // threads + (1 if i < count % threads else 0),))
        for i in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return time.perf_counter() - began


def read_calls_side_by_side(sides: dict[str, dict], calls: int) -> dict[str, dict[str, float]]:
    """DescribeJobs of 100 RUNNABLE ids and the first ListJobs page of 100 RUNNABLE, call by call on each
    side in turn (so drift on the machine weighs on both alike): median ms per side."""
    ids = {
        name: [
            s["jobId"]
            for s in side["batch"].list_jobs(jobQueue=side["queue"], jobStatus="RUNNABLE", maxResults=100)[
                "jobSummaryList"
            ]
        ]
        for name, side in sides.items()
    }
    times: dict[str, dict[str, list[float]]] = {name: {"describe": [], "list": []} for name in sides}
    for _ in range(calls):
        for name, side in sides.items():
            batch = side["batch"]
            began = time.perf_counter()
            assert len(batch.describe_jobs(jobs=ids[name])["jobs"]) == len(ids[name])
            times[name]["describe"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            batch.list_jobs(jobQueue=side["queue"], jobStatus="RUNNABLE", maxResults=100)
            times[name]["list"].append((time.perf_counter() - began) * 1000)
    return {
        name: {
            "describe100_ms": statistics.median(values["describe"]),
            "list_page_ms": statistics.median(values["list"]),
        }
        for name, values in times.items()
    }


def bench_backlog_part(waiting: int, jobs: int, rounds: int, tmp: Path, log_level: str) -> dict:
    with serve(tmp, "empty", log_level) as empty_url, serve(tmp, "filled", log_level) as filled_url:
        sides = {}
        for name, url in (("0", empty_url), (str(waiting), filled_url)):
            batch = client(url)
            queue, definition = setup_batchemu(batch, "starved", 1, LONG)
            sides[name] = {"batch": batch, "queue": queue, "definition": definition, "s": 0.0, "ms": []}
        filled = sides[str(waiting)]
        fill_s = fill(filled_url, filled["queue"], filled["definition"], waiting)
        time.sleep(1.0)  # let the scheduler take in the last of them
        runnable = filled["batch"].list_jobs(jobQueue=filled["queue"], jobStatus="RUNNABLE")
        for side in sides.values():  # warm-up
            submit_block(side["batch"], side["queue"], side["definition"], 20, [])
        block = jobs // rounds
        for _ in range(rounds):
            for side in sides.values():
                side["s"] += submit_block(side["batch"], side["queue"], side["definition"], block, side["ms"])
        reads = read_calls_side_by_side(sides, 30)
        counted = 0
        for page in (
            filled["batch"]
            .get_paginator("list_jobs")
            .paginate(jobQueue=filled["queue"], jobStatus="RUNNABLE")
        ):
            counted += len(page["jobSummaryList"])
    rates = {name: block * rounds / side["s"] for name, side in sides.items()}
    ratio = rates[str(waiting)] / rates["0"]
    read_ratio = {
        key: round(reads[str(waiting)][key] / reads["0"][key], 2)
        for key in ("describe100_ms", "list_page_ms")
    }
    return {
        "runnable_waiting": waiting,
        "runnable_counted_at_end": counted,
        "first_page_nonempty": bool(runnable["jobSummaryList"]),
        "fill_s": round(fill_s, 1),
        "submit_calls_per_s": {name: round(rate, 1) for name, rate in rates.items()},
        "submit_client_ms_p50_p90": {
            name: [round(quantile(side["ms"], 0.5), 2), round(quantile(side["ms"], 0.9), 2)]
            for name, side in sides.items()
        },
        "submit_rate_ratio_20k_vs_0": round(ratio, 2),
        "reads_ms": {name: {k: round(v, 2) for k, v in values.items()} for name, values in reads.items()},
        "reads_ratio_20k_vs_0": read_ratio,
        "met": {
            "submit_rate_20k_vs_0": ratio >= TARGETS["submit_rate_20k_vs_0_min_ratio"],
            "reads_unaffected": all(
                v <= TARGETS["describe_list_20k_vs_0_max_ratio"] for v in read_ratio.values()
            ),
        },
    }


def bench_arrays_part(arrays: int, size: int, tmp: Path, log_level: str) -> dict:
    pids: list[int] = []
    with serve(tmp, "arrays", log_level, pids) as url:
        batch = client(url)
        queue, definition = setup_batchemu(batch, "arrays", 256, "0")
        before = memory_mib(pids[0])
        cpu_before = cpu_seconds(pids[0])
        ids = []
        first = time.perf_counter()
        for index in range(arrays):
            ids.append(
                batch.submit_job(
                    jobName=f"array{index}",
                    jobQueue=queue,
                    jobDefinition=definition,
                    arrayProperties={"size": size},
                )["jobId"]
            )
        last = time.perf_counter()
        statuses: list[str] = []
        while time.perf_counter() - last < 300:
            statuses = [job["status"] for job in batch.describe_jobs(jobs=ids)["jobs"]]
            if all(status in ("SUCCEEDED", "FAILED") for status in statuses):
                break
            time.sleep(0.25)
        done = time.perf_counter()
        after = memory_mib(pids[0])
        cpu_after = cpu_seconds(pids[0])
    seconds = done - last
    return {
        "arrays": arrays,
        "size": size,
        "max_vcpus": 256,
        "submit_calls_s": round(last - first, 2),
        "last_submit_to_all_done_s": round(seconds, 2),
        "children_per_s": round(arrays * size / seconds, 1),
        "statuses": {status: statuses.count(status) for status in set(statuses)},
        "server_memory_before_mib": before,
        "server_memory_done_mib": after,
        "server_cpu_s": None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 2),
        "load_average": os.getloadavg()[0],
        "met": {
            "ten_arrays_in_7_s": statuses.count("SUCCEEDED") == arrays
            and seconds <= TARGETS["ten_arrays_last_submit_to_succeeded_s_max"]
        },
    }


def setup_moto(endpoint: str, batch, suffix: str, kind: str):  # type: ignore[no-untyped-def]
    """moto's side of a scenario: the api benchmark's resources, or an UNMANAGED compute environment."""
    if kind != "unmanaged":
        return setup_side(endpoint, batch, suffix)
    import boto3

    keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    iam = boto3.client("iam", endpoint_url=endpoint, **keys)
    role = iam.create_role(RoleName=f"bench-u-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"bench-u-{suffix}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    return queue_and_definition(
        batch, ce["computeEnvironmentArn"], f"bench-uq-{suffix}", f"bench-ujd-{suffix}"
    )


def _client_process(endpoint: str, queue: str, definition: str, count: int, go, done) -> None:  # type: ignore[no-untyped-def]
    batch = client(endpoint)
    batch.submit_job(jobName="warm", jobQueue=queue, jobDefinition=definition)
    done.put(("ready", 0.0))
    go.wait()
    for index in range(count):
        batch.submit_job(jobName=f"c{index}", jobQueue=queue, jobDefinition=definition)
    done.put(("finished", time.perf_counter()))


def concurrent_rate(endpoint: str, queue: str, definition: str, clients: int, count: int) -> float:
    context = multiprocessing.get_context("fork")
    go, done = context.Event(), context.Queue()
    workers = [
        context.Process(target=_client_process, args=(endpoint, queue, definition, count, go, done))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    for _ in range(clients):
        done.get(timeout=120)
    began = time.perf_counter()
    go.set()
    ends = [done.get(timeout=600)[1] for _ in range(clients)]
    for worker in workers:
        worker.join()
    return clients * count / (max(ends) - began)


def bench_moto_part(jobs: int, rounds: int, clients: int, per_client: int, tmp: Path, log_level: str) -> dict:
    moto_port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    moto_command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
    with serve(tmp, "vs-moto", log_level) as ours_url, process(moto_command, tmp / "moto.stderr", env):
        wait_until_answers(moto_port, "/moto-api/data.json")
        config = json.dumps({"batch": {"use_docker": False}}).encode()
        assert http_status(moto_port, "POST", "/moto-api/config", config) in (200, 201)
        moto_url = f"http://127.0.0.1:{moto_port}"
        ours, moto = client(ours_url), client(moto_url)
        scenarios = {
            "finishing": setup_batchemu(ours, "finishing", 256, "0"),
            "unmanaged_pile_up": setup_batchemu(ours, "unmanaged", None, LONG, unmanaged=True),
            "starved_managed": setup_batchemu(ours, "starved", 1, LONG),
        }
        moto_sides = {
            name: setup_moto(moto_url, moto, f"{name[:4]}{uuid.uuid4().hex[:6]}", kind)
            for name, kind in (
                ("finishing", "managed"),
                ("unmanaged_pile_up", "unmanaged"),
                ("starved_managed", "managed"),
            )
        }
        seconds = {(name, side): 0.0 for name in scenarios for side in ("batchemu", "moto")}
        for name in scenarios:  # warm-up
            submit_block(ours, *scenarios[name], 20, [])
            submit_block(moto, *moto_sides[name], 20, [])
        block = jobs // rounds
        for _ in range(rounds):
            for name in scenarios:
                seconds[(name, "batchemu")] += submit_block(ours, *scenarios[name], block, [])
                seconds[(name, "moto")] += submit_block(moto, *moto_sides[name], block, [])
        concurrent: dict[str, list[float]] = {"batchemu": [], "moto": []}
        for _ in range(2):
            concurrent["batchemu"].append(
                concurrent_rate(ours_url, *scenarios["finishing"], clients, per_client)
            )
            concurrent["moto"].append(
                concurrent_rate(moto_url, *moto_sides["finishing"], clients, per_client)
            )
        piled = ours.list_jobs(jobQueue=scenarios["unmanaged_pile_up"][0], jobStatus="RUNNING")
    result: dict = {"jobs_per_scenario": block * rounds, "submit_calls_per_s": {}, "ratio_vs_moto": {}}
    for name in scenarios:
        rate = {side: block * rounds / seconds[(name, side)] for side in ("batchemu", "moto")}
        result["submit_calls_per_s"][name] = {side: round(value, 1) for side, value in rate.items()}
        result["ratio_vs_moto"][name] = round(rate["batchemu"] / rate["moto"], 2)
    aggregate = {side: statistics.median(values) for side, values in concurrent.items()}
    result["submit_calls_per_s"][f"{clients}_clients_aggregate"] = {
        side: round(value, 1) for side, value in aggregate.items()
    }
    result["ratio_vs_moto"][f"{clients}_clients_aggregate"] = round(
        aggregate["batchemu"] / aggregate["moto"], 2
    )
    result["unmanaged_running_first_page"] = len(piled["jobSummaryList"])
    result["met"] = {
        f"submit_vs_moto_{name}": ratio >= TARGETS["submit_rate_vs_moto_min_ratio"]
        for name, ratio in result["ratio_vs_moto"].items()
    }
    return result


def bench_backlog(
    parts: list[str],
    waiting: int,
    jobs: int,
    rounds: int,
    arrays: int,
    size: int,
    log_level: str = "INFO",
) -> dict:
    """`log_level` is the servers' --log-level in every part (INFO, the default, writes a line per request
    and per job transition; array children's transitions are at DEBUG)."""
    tmp = Path(tempfile.mkdtemp(prefix="batchemu-backlog-"))
    result: dict = {
        "benchmark": "backlog",
        "log_level": log_level,
        "targets": TARGETS,
        "load_average_before": os.getloadavg(),
    }
    if "backlog" in parts:
        result["backlog"] = bench_backlog_part(waiting, jobs, rounds, tmp, log_level)
    if "arrays" in parts:
        result["arrays"] = bench_arrays_part(arrays, size, tmp, log_level)
    if "moto" in parts:
        result["moto"] = bench_moto_part(jobs, rounds, 16, max(jobs // 16, 25), tmp, log_level)
    result["met"] = {
        f"{part}.{key}": value for part in parts for key, value in result.get(part, {}).get("met", {}).items()
    }
    result["load_average_after"] = os.getloadavg()
    return result

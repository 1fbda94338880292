#!/usr/bin/env python
"""Benchmark (not a test) of a user's typical Batch test file (issue 21): N generated tests, each creating a
MANAGED compute environment and a job queue and waiting for both to be VALID, registering a job
definition, submitting one job and polling DescribeJobs every 10 ms until SUCCEEDED. The same file runs in
a pytest subprocess with batchemu's `batch_client` fixture and with moto's `mock_aws` (Batch without
Docker: `config={"batch": {"use_docker": False}}`, as moto's own tests do), side by side, `--rounds` times.
Prints one JSON line: wall time of each pytest run, the sum of the tests' own times, the first test's time
and the median of the others (each test's setup + call + teardown, from pytest's reports).

    python scripts/bench_typical.py [--tests 50] [--rounds 3] [--before /path/to/other/checkout]

moto refuses a MANAGED compute environment whose subnet, security group and instance profile it does not
hold, so its tests create them first (as moto's own Batch tests do); batchemu's tests do not need them."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 10.0
TARGET_FIRST_TEST_S = 0.3

# The same module head on both sides: a user's test module imports boto3 (moto's needs it for its fixture).
COMMON = """
import time

import boto3

def typical(batch, subnet, security_group, instance_role, service_role, name):
    batch.create_compute_environment(
        computeEnvironmentName=f"ce-{name}", type="MANAGED", state="ENABLED", serviceRole=service_role,
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                          "subnets": [subnet], "securityGroupIds": [security_group],
                          "instanceRole": instance_role})
    wait_valid(lambda: batch.describe_compute_environments(
        computeEnvironments=[f"ce-{name}"])["computeEnvironments"])
    batch.create_job_queue(jobQueueName=f"q-{name}", priority=1, state="ENABLED",
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": f"ce-{name}"}])
    wait_valid(lambda: batch.describe_job_queues(jobQueues=[f"q-{name}"])["jobQueues"])
    batch.register_job_definition(jobDefinitionName=f"jd-{name}", type="container", containerProperties={
        "image": "busybox", "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})
    job_id = batch.submit_job(jobName="job", jobQueue=f"q-{name}", jobDefinition=f"jd-{name}")["jobId"]
    deadline = time.monotonic() + 30
    while True:
        status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if status == "SUCCEEDED":
            return
        assert status != "FAILED" and time.monotonic() < deadline, status
        time.sleep(0.01)

def wait_valid(describe):
    deadline = time.monotonic() + 30
    while True:
        found = describe()
        if found and found[0]["status"] == "VALID":
            return
        assert time.monotonic() < deadline, found
        time.sleep(0.01)
"""

BATCHEMU_FILE = """
def test_typical_{index}(batch_client):
    typical(batch_client, "subnet-1", "sg-1", "ecsInstanceRole",
            "arn:aws:iam::123456789012:role/AWSBatchServiceRole", "{index}")
"""

MOTO_HEADER = """
import pytest
from moto import mock_aws

@pytest.fixture
def batch_client():
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield boto3.client("batch", region_name="us-east-1")

def network():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="172.30.0.0/24")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="172.30.0.0/25")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="sg", Description="batch", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="ecsInstanceRole", AssumeRolePolicyDocument="{{}}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="ecsInstanceRole")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="ecsInstanceRole", RoleName="ecsInstanceRole")
    return subnet, group, profile["Arn"], role
"""

MOTO_FILE = """
def test_typical_{index}(batch_client):
    typical(batch_client, *network(), "{index}")
"""

CONFTEST = """
import json, os

durations = {}

def pytest_runtest_logreport(report):
    durations.setdefault(report.nodeid, 0.0)
    durations[report.nodeid] += report.duration
    if report.outcome == "failed" and report.when == "call":
        durations["failed"] = durations.get("failed", 0) + 1

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TYPICAL_OUT"], "w") as out:
        json.dump(durations, out)
"""


def write_suite(folder: Path, kind: str, tests: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    header = MOTO_HEADER.replace("{{}}", "{}") if kind == "moto" else ""
    body = (MOTO_FILE if kind == "moto" else BATCHEMU_FILE).replace("{{}}", "{}")
    text = COMMON + header + "".join(body.format(index=index) for index in range(tests))
    (folder / "test_typical.py").write_text(text)
    (folder / "conftest.py").write_text(CONFTEST)
    return folder


def run_suite(folder: Path, kind: str, root: Path = ROOT) -> dict:
    out = folder / "durations.json"
    environment = dict(os.environ, BENCH_TYPICAL_OUT=str(out), PYTHONPATH=str(root))
    environment.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    environment.pop("AWS_ENDPOINT_URL", None)
    environment.pop("BATCHEMU_ENDPOINT", None)
    # A user's interpreter keeps compiled modules (__pycache__); without them every run compiles batchemu,
    # botocore and moto again (0.2 s of batchemu's first test alone). Both sides alike.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    # Plugins a user's CI would not have loaded stay out, on both sides alike; batchemu's own plugin is out
    # of the moto run (it imports nothing until a fixture is used, but the moto file defines batch_client).
    quiet = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark", "-q"]
    if kind == "moto":
        quiet += ["-p", "no:batchemu"]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *quiet, str(folder / "test_typical.py")],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{kind} suite failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    durations = json.loads(out.read_text())
    tests = [durations[key] for key in sorted(durations, key=_index) if "::" in key]
    return {
        "wall_s": round(wall, 3),
        "tests_s": round(sum(tests), 3),
        "first_s": round(tests[0], 3),
        "others_median_ms": round(statistics.median(tests[1:]) * 1000, 1),
    }


def _index(nodeid: str) -> int:
    return int(nodeid.rsplit("_", 1)[-1]) if "::" in nodeid else -1


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def bench_typical(tests: int, rounds: int, before: Path | None = None) -> dict:
    """`before`: another checkout of batchemu, run as a third side ("batchemu_before") with the same file."""
    runs: dict[str, list[dict]] = {"batchemu": [], "moto": []}
    roots = {"batchemu": ROOT, "moto": ROOT}
    if before is not None:
        runs["batchemu_before"], roots["batchemu_before"] = [], before
    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="bench-typical-") as scratch:
        suites = {
            kind: write_suite(Path(scratch) / kind, "moto" if kind == "moto" else "batchemu", tests)
            for kind in runs
        }
        for _ in range(rounds):
            for kind, folder in suites.items():
                runs[kind].append(run_suite(folder, "moto" if kind == "moto" else "batchemu", roots[kind]))
            loads.append(load_average())

    def medians(kind: str) -> dict:
        return {key: statistics.median(run[key] for run in runs[kind]) for key in runs[kind][0]}

    ours, theirs = medians("batchemu"), medians("moto")
    earlier = {"batchemu_before": medians("batchemu_before"), "before_root": str(before)} if before else {}
    ratios = [m["wall_s"] / b["wall_s"] for b, m in zip(runs["batchemu"], runs["moto"], strict=True)]
    ratios_tests = [m["tests_s"] / b["tests_s"] for b, m in zip(runs["batchemu"], runs["moto"], strict=True)]
    return {
        "benchmark": "typical",
        "tests": tests,
        "rounds": rounds,
        "batchemu": ours,
        "moto": theirs,
        **earlier,
        "runs": runs,
        "moto_over_batchemu_wall": [round(r, 2) for r in ratios],
        "moto_over_batchemu_tests": [round(r, 2) for r in ratios_tests],
        "load_average": loads,
        "targets": {"moto_over_batchemu_min": TARGET_RATIO, "first_test_s_max": TARGET_FIRST_TEST_S},
        "met": {
            "ratio": statistics.median(ratios) >= TARGET_RATIO,
            "first_test": ours["first_s"] < TARGET_FIRST_TEST_S,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another batchemu checkout to run as a third side")
    arguments = parser.parse_args()
    print(json.dumps(bench_typical(arguments.tests, arguments.rounds, arguments.before)), flush=True)


if __name__ == "__main__":
    main()

"""What scripts/bench.py and scripts/bench_backlog.py both use: a free port, a subprocess for the life of
a block, waiting for a server to answer, the `batchemu serve` command line, and the same Batch resources on
batchemu and on moto. Not a script; scripts/ is on sys.path when bench.py or bench_backlog.py runs."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
from bench_api import queue_and_definition


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_status(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 1.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until_answers(port: int, path: str, deadline_s: float = 60, interval_s: float = 0.005) -> float:
    """Seconds until `GET path` answers 200."""
    began = time.perf_counter()
    while time.perf_counter() - began < deadline_s:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_status(port, "GET", path) == 200:
                return time.perf_counter() - began
        time.sleep(interval_s)
    raise SystemExit(f"nothing answered 200 on 127.0.0.1:{port}{path} within {deadline_s}s")


@contextlib.contextmanager
def process(
    command: list[str], stderr_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def serve_command(port: int, log_level: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "batchemu",
        "serve",
        "--runner",
        "simulated",
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]


def setup_side(endpoint: str, batch, suffix: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The same resources on both servers, real enough for moto's checks: an IAM service role and instance
    profile, a subnet and a security group (batchemu serves IAM and EC2 through moto in-process), then a
    MANAGED EC2 compute environment (minvCpus 0: moto starts no instances), a queue, a job definition."""
    keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    iam = boto3.client("iam", endpoint_url=endpoint, **keys)
    ec2 = boto3.client("ec2", endpoint_url=endpoint, **keys)
    role = iam.create_role(RoleName=f"bench-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"bench-{suffix}")["InstanceProfile"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"bench-{suffix}", Description="bench", VpcId=vpc)["GroupId"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"bench-ce-{suffix}",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 256,
            "instanceTypes": ["optimal"],
            "subnets": [subnet],
            "securityGroupIds": [group],
            "instanceRole": profile,
        },
    )
    return queue_and_definition(batch, ce["computeEnvironmentArn"], f"bench-q-{suffix}", f"bench-jd-{suffix}")

"""batchemu as a Docker sidecar: the top-level Dockerfile builds offline from the local Python test image,
runs as non-root, reports healthy, published on 127.0.0.1 only serves a whole job to boto3 on the host (and
its Docker jobs reach it back), and ends on `docker stop` with
status 0 in under 5 s, its job containers removed (and removed by the next server after a `docker kill`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
# One tag per checkout: several checkouts may share an engine, and each must test (and later replace)
# only the image it built itself.
IMAGE = f"batchemu:e2e-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.integration.conftest import _engine_answers, _may_set_up_docker

    if not _engine_answers():
        if not _may_set_up_docker():
            pytest.skip("no Docker engine answers")
        subprocess.run([str(ROOT / "scripts" / "docker-setup")], check=True, timeout=600)
    subprocess.run([str(ROOT / "scripts" / "build-test-images")], check=True, timeout=1200)
    context = tmp_path_factory.mktemp("context")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in tracked.splitlines():
        if (ROOT / name).is_file():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, context / name)
    if CA_BUNDLE.exists():  # pip inside the build goes through this machine's TLS-intercepting proxy
        shutil.copy2(CA_BUNDLE, context / "ca-certificates.crt")
    previous = _image_id(IMAGE)
    build = subprocess.run(
        [
            "docker",
            "build",
            "--network",
            "host",
            "--build-arg",
            "BASE_IMAGE=batchemu-test/python:latest",
            "-t",
            IMAGE,
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    # The previous build of this tag is now an untagged image of ~0.25 GB: drop it (that one only: other
    # untagged images on the engine are not ours), so machines that run the suite again and again do not
    # fill their disks. It stays while a container still uses it.
    if previous is not None and previous != _image_id(IMAGE):
        subprocess.run(["docker", "image", "rm", previous], capture_output=True, timeout=120)
    return IMAGE


def _image_id(name: str) -> str | None:
    found = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True
    )
    return found.stdout.strip() if found.returncode == 0 else None


def run_sidecar(image: str, *options: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # README's form: published on the loopback address only (an unauthenticated endpoint that runs
    # containers stays off the network), on the port it listens on inside, so that job containers (host
    # network) reach it at the 127.0.0.1 address it gives them.
    command = ["docker", "run", "-d", "-p", f"127.0.0.1:{port}:{port}", "-e", f"BATCHEMU_PORT={port}"]
    command += [*options, image]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def sidecar(image: str) -> Iterator[str]:
    container = run_sidecar(image)
    try:
        yield container
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


@pytest.fixture(scope="module")
def docker_sidecar(image: str) -> Iterator[str]:
    """With the host's Docker socket the sidecar runs jobs as real containers; it stays non-root and
    joins the socket's group instead."""
    socket_group = str(Path("/var/run/docker.sock").stat().st_gid)
    container = run_sidecar(
        image, "-v", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socket_group
    )
    try:
        yield container
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def inspect(container: str) -> dict:
    out = subprocess.run(["docker", "inspect", container], check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]


def wait_healthy(container: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = inspect(container)["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return state
        assert state["Running"], subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True
        ).stderr
        time.sleep(0.5)
    raise AssertionError("the sidecar never became healthy")


def test_sidecar_becomes_healthy_runs_as_non_root_and_serves_a_job(sidecar: str) -> None:
    wait_healthy(sidecar)
    env = dict(item.split("=", 1) for item in inspect(sidecar)["Config"]["Env"])
    endpoint = f"http://127.0.0.1:{env['BATCHEMU_PORT']}"
    uid = subprocess.run(
        ["docker", "exec", sidecar, "id", "-u"], check=True, capture_output=True, text=True
    ).stdout
    assert uid.strip() != "0"
    published = inspect(sidecar)["NetworkSettings"]["Ports"][f"{env['BATCHEMU_PORT']}/tcp"]
    assert {binding["HostIp"] for binding in published} == {"127.0.0.1"}
    with urllib.request.urlopen(f"{endpoint}/_batchemu/health") as response:
        health = json.load(response)
    assert (health["status"], health["runner"]) == ("running", "simulated")
    batch = boto3.client(
        "batch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=2)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={"image": "busybox", "command": ["true"], "vcpus": 1, "memory": 64},
    )
    time.sleep(0.5)
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if status in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.2)
    assert status == "SUCCEEDED"


def test_sidecar_with_the_docker_socket_runs_a_docker_job_and_its_logs_are_readable(
    docker_sidecar: str,
) -> None:
    wait_healthy(docker_sidecar)
    env = dict(item.split("=", 1) for item in inspect(docker_sidecar)["Config"]["Env"])
    endpoint = f"http://127.0.0.1:{env['BATCHEMU_PORT']}"
    uid = subprocess.run(
        ["docker", "exec", docker_sidecar, "id", "-u"], check=True, capture_output=True, text=True
    )
    assert uid.stdout.strip() != "0"
    with urllib.request.urlopen(f"{endpoint}/_batchemu/health") as response:
        assert json.load(response)["runner"] == "docker"
    session = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "123456789012",
        "aws_secret_access_key": "testing",
    }
    batch = boto3.client("batch", **session)
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=2)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName="hello",
        type="container",
        containerProperties={
            "image": "batchemu-test/busybox:latest",
            # the job reaches the emulator back through the loopback-published port
            "command": [
                "sh",
                "-c",
                'wget -q -O /dev/null "$AWS_ENDPOINT_URL/_batchemu/health" && echo hello from a sidecar job',
            ],
            "vcpus": 1,
            "memory": 64,
        },
    )
    time.sleep(0.5)
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="hello")["jobId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.2)
    assert (job["status"], job["container"]["exitCode"]) == ("SUCCEEDED", 0)
    logs = boto3.client("logs", **session)
    messages: list[str] = []
    while time.monotonic() < deadline and not messages:
        try:
            answer = logs.get_log_events(
                logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"]
            )
            messages = [event["message"] for event in answer["events"]]
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.3)
    assert messages == ["hello from a sidecar job"]


def provision_sleeper(endpoint: str) -> tuple[object, str]:
    """A queue whose job sleeps for minutes, and one such job RUNNING; returns (client, job id)."""
    batch = boto3.client(
        "batch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="testing",
    )
    batch.create_compute_environment(computeEnvironmentName="sleepy", type="UNMANAGED", unmanagedvCpus=2)
    time.sleep(0.5)
    batch.create_job_queue(
        jobQueueName="sleepy",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "sleepy"}],
    )
    batch.register_job_definition(
        jobDefinitionName="sleeper",
        type="container",
        containerProperties={
            "image": "batchemu-test/busybox:latest",
            "command": ["sleep", "300"],
            "vcpus": 1,
            "memory": 64,
        },
    )
    time.sleep(0.5)
    job_id = batch.submit_job(jobName="sleeper", jobQueue="sleepy", jobDefinition="sleeper")["jobId"]
    deadline = time.monotonic() + 60
    while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "RUNNING":
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(0.2)
    return batch, job_id


def job_containers(job_id: str) -> list[str]:
    found = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=batchemu.job-id={job_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def docker_stop(container: str) -> float:
    started = time.monotonic()
    subprocess.run(["docker", "stop", container], check=True, capture_output=True, timeout=60)
    return time.monotonic() - started


def test_docker_stop_ends_an_idle_sidecar_with_status_0_in_under_5_s(sidecar: str) -> None:
    wait_healthy(sidecar)
    seconds = docker_stop(sidecar)
    state = inspect(sidecar)["State"]
    assert (state["ExitCode"], seconds < 5) == (0, True), seconds
    logs = subprocess.run(["docker", "logs", sidecar], capture_output=True, text=True).stderr
    assert "batchemu shut down on SIGTERM" in logs


def test_docker_stop_with_a_job_running_removes_its_container(docker_sidecar: str) -> None:
    wait_healthy(docker_sidecar)
    env = dict(item.split("=", 1) for item in inspect(docker_sidecar)["Config"]["Env"])
    _, job_id = provision_sleeper(f"http://127.0.0.1:{env['BATCHEMU_PORT']}")
    assert len(job_containers(job_id)) == 1
    seconds = docker_stop(docker_sidecar)
    assert (inspect(docker_sidecar)["State"]["ExitCode"], seconds < 5) == (0, True), seconds
    assert job_containers(job_id) == []


def test_after_docker_kill_the_next_server_removes_the_sidecars_job_container(image: str) -> None:
    from batchemu.runners.docker import DockerRunner

    socket_group = str(Path("/var/run/docker.sock").stat().st_gid)
    killed = run_sidecar(
        image, "-v", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socket_group
    )
    try:
        wait_healthy(killed)
        env = dict(item.split("=", 1) for item in inspect(killed)["Config"]["Env"])
        _, job_id = provision_sleeper(f"http://127.0.0.1:{env['BATCHEMU_PORT']}")
        subprocess.run(["docker", "kill", killed], check=True, capture_output=True)
        assert len(job_containers(job_id)) == 1  # what an unclean end leaves behind
        runner = DockerRunner("http://127.0.0.1:1")
        try:
            runner.remove_orphans()  # what every server with the Docker runner does at start-up
        finally:
            runner.close()
        assert job_containers(job_id) == []
    finally:
        subprocess.run(["docker", "rm", "-f", killed], capture_output=True)

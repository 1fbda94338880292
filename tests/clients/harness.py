"""What the real-client tests share besides fixtures: where the clients and their projects are, the
served emulator's handle (endpoint, boto3 clients, the environment a user exports), and running a client
command to its end."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_client

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
PROJECTS = Path(__file__).resolve().parent / "projects"
CLIENTS = ROOT / ".cache" / "clients"
PYTHON_IMAGE = "batchemu-test/python:latest"
CLIENTS_IMAGE = "batchemu-test/python-clients:latest"
QUEUE = "clients-q"
COMPUTE_ENVIRONMENT = "clients-ce"
BUCKET = "batchemu-clients"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=5).ping()
        return True
    except Exception:
        return False


def client_python(tool: str) -> Path:
    """The python of `tool`'s virtualenv; created under CI=true when missing, else the test skips."""
    python = CLIENTS / tool / "bin" / "python"
    if not python.exists():
        if not in_ci():
            pytest.skip(f"{tool} is not installed: run scripts/setup-clients {tool} (CI=true does it itself)")
        subprocess.run([str(SCRIPTS / "setup-clients"), tool], check=True, timeout=1800)
    assert python.exists(), f"scripts/setup-clients {tool} ran but {python} is missing"
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A `batchemu serve --runner docker` subprocess with a MANAGED compute environment, a job queue and
    an S3 bucket made through boto3, as a user provisions them before pointing a tool at it."""

    endpoint: str
    log_path: Path
    queue: str = QUEUE
    bucket: str = BUCKET

    def client(self, service: str) -> Any:
        return make_client(self.endpoint, service=service)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a user exports for a tool: the endpoint for every AWS service, dummy
        credentials and a region; nothing from this machine's AWS settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "METAFLOW_", "AIRFLOW"))}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        env.update(extra)
        return env

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def s3_text(self, key: str) -> str:
        body = self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return str(body.decode())

    def jobs(self, status: str) -> list[dict[str, Any]]:
        batch = self.client("batch")
        ids = [s["jobId"] for s in batch.list_jobs(jobQueue=self.queue, jobStatus=status)["jobSummaryList"]]
        described: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):
            described += batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]
        return described


def wait_valid(describe: Any, key: str, name: str, deadline: float = 30.0) -> None:
    give_up = time.monotonic() + deadline
    while True:
        [resource] = describe()[key]
        if resource["status"] == "VALID":
            return
        assert time.monotonic() < give_up, f"{name} still {resource['status']} after {deadline}s"
        time.sleep(0.1)


def run_client(
    served: Served, command: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs a client command to its end; a non-zero exit fails the test with its output and the server's."""
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, (
        f"{command[:4]} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n"
        f"--- stderr\n{result.stderr[-6000:]}\n--- batchemu serve\n{served.log_tail()}"
    )
    return result

"""Fixtures for the real-client tests: workflow tools (Metaflow, Luigi, Airflow, snakemake, redun, Prefect),
each installed unmodified in its own virtualenv by scripts/setup-clients, drive `batchemu serve --runner docker` (a
subprocess, as a user starts it) with their documented settings. Job images are built offline by
scripts/build-test-images --clients.

Under CI=true every piece is set up here when missing and nothing skips; elsewhere a test skips when its
client's virtualenv is absent (the reason says how to create it) or when no Docker engine answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients.harness import (
    BUCKET,
    COMPUTE_ENVIRONMENT,
    QUEUE,
    SCRIPTS,
    Served,
    engine_answers,
    free_port,
    in_ci,
    wait_valid,
)
from tests.helpers import compute_resources


@pytest.fixture(scope="session")
def job_images() -> None:
    """A Docker engine with the test images, the clients' job image included."""
    if not engine_answers():
        if not (in_ci() or os.environ.get("BATCHEMU_SETUP_DOCKER") == "1"):
            pytest.skip("no Docker engine answers; set BATCHEMU_SETUP_DOCKER=1 (or CI=true) to start one")
        subprocess.run([str(SCRIPTS / "docker-setup")], check=True, timeout=600)
        assert engine_answers(), "scripts/docker-setup ran but the Docker engine still does not answer"
    subprocess.run([str(SCRIPTS / "build-test-images"), "--clients"], check=True, timeout=1200)


@pytest.fixture(scope="session")
def served(job_images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("batchemu-serve") / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "batchemu", "serve", "--runner", "docker", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("BATCHEMU_")},
        )
    assert process.stdout is not None
    ready = process.stdout.readline()
    served = Served(f"http://127.0.0.1:{port}", log_path)
    try:
        assert "ready on" in ready and "runner: docker" in ready, (ready, served.log_tail())
        batch = served.client("batch")
        batch.create_compute_environment(
            computeEnvironmentName=COMPUTE_ENVIRONMENT, type="MANAGED", computeResources=compute_resources(8)
        )
        wait_valid(
            lambda: batch.describe_compute_environments(computeEnvironments=[COMPUTE_ENVIRONMENT]),
            "computeEnvironments",
            COMPUTE_ENVIRONMENT,
        )
        batch.create_job_queue(
            jobQueueName=QUEUE,
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": COMPUTE_ENVIRONMENT}],
        )
        wait_valid(lambda: batch.describe_job_queues(jobQueues=[QUEUE]), "jobQueues", QUEUE)
        served.client("s3").create_bucket(Bucket=BUCKET)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Any:
    """report(client, **figures): prints one `client-timing` JSON line past pytest's capture, so CI's log
    shows how long each client took (see scripts/test-clients)."""

    def emit(client: str, **figures: Any) -> None:
        with capsys.disabled():
            print(f"\nclient-timing {json.dumps({'client': client, **figures}, sort_keys=True)}")

    return emit

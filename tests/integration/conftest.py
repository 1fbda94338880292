"""Fixtures for runner integration tests: a real Docker engine with the test images (set up when CI=true
or BATCHEMU_SETUP_DOCKER=1), runners that clean up after themselves, and polling helpers with deadlines."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchemu.runners.base import ContainerSpec, Phase, Runner, RunState

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
BUSYBOX = "batchemu-test/busybox:latest"
PYTHON = "batchemu-test/python:latest"
ENDPOINT = "http://127.0.0.1:4566"
FINISHED = (Phase.EXITED, Phase.FAILED_TO_START)


def _engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=5).ping()
        return True
    except Exception:
        return False


def _may_set_up_docker() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("BATCHEMU_SETUP_DOCKER") == "1"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers, with the test images built; skips when there is none and we may not
    set one up. In CI a failure to set up is an error, never a skip."""
    if not _engine_answers():
        if not _may_set_up_docker():
            pytest.skip("no Docker engine answers; set BATCHEMU_SETUP_DOCKER=1 (or CI=true) to start one")
        subprocess.run([str(SCRIPTS / "docker-setup")], check=True, timeout=600)
        assert _engine_answers(), "scripts/docker-setup ran but the Docker engine still does not answer"
    subprocess.run([str(SCRIPTS / "build-test-images")], check=True, timeout=1200)


@pytest.fixture
def docker_runner(docker_engine: None) -> Iterator[Any]:
    from batchemu.runners.docker import DockerRunner

    runner = DockerRunner(ENDPOINT)
    yield runner
    runner.close()


@pytest.fixture
def docker_api(docker_engine: None) -> Any:
    import docker

    return docker.from_env().api


@pytest.fixture
def process_runner() -> Iterator[Any]:
    from batchemu.runners.process import ProcessRunner

    runner = ProcessRunner(ENDPOINT, kill_grace_seconds=1.0)
    yield runner
    runner.close()


def _make_spec(
    command: list[str], image: str = BUSYBOX, job_id: str = "job-1", **fields: Any
) -> ContainerSpec:
    environment = {"AWS_BATCH_JOB_ID": job_id, "AWS_BATCH_JOB_ATTEMPT": "1", "AWS_BATCH_JQ_NAME": "queue-1"}
    environment.update(fields.pop("environment", {}))
    return ContainerSpec(
        job_id=job_id, attempt=1, image=image, command=command, environment=environment, **fields
    )


def _wait_for(
    runner: Runner, handle: Any, phases: tuple[Phase, ...] = FINISHED, deadline: float = 30.0
) -> RunState:
    """Poll until the attempt reaches one of `phases`; fails the test after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    state = runner.poll(handle)
    while state.phase not in phases:
        assert time.monotonic() < give_up, f"still {state} after {deadline}s, waiting for {phases}"
        time.sleep(0.05)
        state = runner.poll(handle)
    return state


def _run_to_end(
    runner: Runner, spec: ContainerSpec, deadline: float = 30.0
) -> tuple[RunState, list[str], Any]:
    """Start, wait for the end, and return the final state, the log messages and the handle."""
    handle = runner.start(spec)
    state = _wait_for(runner, handle, FINISHED, deadline)
    return state, [event.message for event in runner.logs(handle, 0)], handle


@pytest.fixture
def make_spec() -> Any:
    """make_spec(command, image=BUSYBOX, job_id="job-1", **ContainerSpec fields) -> ContainerSpec"""
    return _make_spec


@pytest.fixture
def wait_for() -> Any:
    """wait_for(runner, handle, phases=FINISHED, deadline=30.0) -> RunState"""
    return _wait_for


@pytest.fixture
def run_to_end() -> Any:
    """run_to_end(runner, spec, deadline=30.0) -> (RunState, [log message], handle)"""
    return _run_to_end

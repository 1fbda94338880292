"""`batchemu serve` ending: SIGTERM or SIGINT with a job RUNNING exits 0 within 5 s and leaves no container or
process behind, the job failed with a reason; --state-dir leaves running containers for the next start (or
stops them with --on-shutdown stop); a server started after a `kill -9` removes the dead server's
containers and never those of a live one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import helpers
from tests.helpers import ACCOUNT, container, make_client

BUSYBOX = "batchemu-test/busybox:latest"
EXIT_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """One `batchemu serve` process; its stderr goes to a file, read after it ends."""

    def __init__(self, tmp_path: Path, runner: str, *flags: str) -> None:
        self.port = free_port()
        self.log = tmp_path / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "batchemu",
                    "serve",
                    "--port",
                    str(self.port),
                    "--runner",
                    runner,
                    *flags,
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        self.ready = self.process.stdout.readline()
        assert "ready on" in self.ready, self.log.read_text()[-2000:]

    def client(self, service: str = "batch") -> Any:
        return make_client(
            f"http://127.0.0.1:{self.port}", access_key=ACCOUNT, service=service, secret_key="x"
        )

    def signal(self, number: int) -> tuple[int, float]:
        """Sends `number`; returns the exit status and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(number)
        status = self.process.wait(timeout=30)
        return status, time.monotonic() - started

    def stderr(self) -> str:
        return self.log.read_text()

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(runner: str, *flags: str) -> Served:
        started.append(Served(tmp_path, runner, *flags))
        return started[-1]

    yield start
    for served in started:
        served.end()


def run_until_running(served: Served, command: list[str]) -> str:
    batch = served.client()
    helpers.provision(batch, definition="jd", properties=container(command, memory=64, image=BUSYBOX))
    time.sleep(0.3)  # the compute environment becomes VALID
    job_id: str = batch.submit_job(jobName="long", jobQueue="q", jobDefinition="jd")["jobId"]
    wait_status(batch, job_id, {"RUNNING"})
    return job_id


def wait_status(batch: Any, job_id: str, wanted: set[str], seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if jobs and jobs[0]["status"] in wanted:
            return dict(jobs[0])
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {wanted}")


def containers_of(job_id: str) -> list[str]:
    found = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=batchemu.job-id={job_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def processes_with(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return found.stdout.split()


def test_sigterm_with_a_job_running_on_the_process_runner_exits_0_and_kills_its_processes(
    serve: Callable[..., Served],
) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.5"  # a unique `sleep` argument: the job's processes, found by it
    served = serve("process")
    run_until_running(served, ["sh", "-c", f"echo started; sleep {marker}; echo never"])
    assert processes_with(f"sleep {marker}")

    status, seconds = served.signal(signal.SIGTERM)

    assert (status, seconds < EXIT_SECONDS) == (0, True), (seconds, served.stderr()[-2000:])
    assert processes_with(f"sleep {marker}") == []
    lines = [line for line in served.stderr().splitlines() if "shut down on SIGTERM" in line]
    assert len(lines) == 1 and "stopped 1 running job and failed it; logs flushed" in lines[0], lines
    assert "Traceback" not in served.stderr()


@pytest.mark.docker
def test_sigterm_with_a_job_running_on_the_docker_runner_exits_0_and_removes_its_container(
    docker_engine: None, serve: Callable[..., Served]
) -> None:
    served = serve("docker")
    job_id = run_until_running(served, ["sh", "-c", "echo started; sleep 300"])
    assert len(containers_of(job_id)) == 1

    status, seconds = served.signal(signal.SIGTERM)

    assert (status, seconds < EXIT_SECONDS) == (0, True), (seconds, served.stderr()[-2000:])
    assert containers_of(job_id) == []
    assert "stopped 1 running job and failed it" in served.stderr()
    assert "Traceback" not in served.stderr()


def test_sigint_on_an_idle_server_exits_0_with_one_line(serve: Callable[..., Served]) -> None:
    served = serve("simulated")
    status, seconds = served.signal(signal.SIGINT)
    assert (status, seconds < EXIT_SECONDS) == (0, True)
    lines = [line for line in served.stderr().splitlines() if "shut down on SIGINT" in line]
    assert len(lines) == 1 and "no job was running" in lines[0]


def test_with_a_state_dir_and_on_shutdown_stop_the_job_is_failed_with_the_reason_after_a_restart(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    served = serve("process", "--state-dir", state, "--on-shutdown", "stop")
    job_id = run_until_running(served, ["sh", "-c", "echo started; sleep 300"])
    assert served.signal(signal.SIGTERM)[0] == 0

    again = serve("process", "--state-dir", state)
    job = wait_status(again.client(), job_id, {"FAILED"}, seconds=5)
    assert job["statusReason"] == "batchemu shut down (SIGTERM) and stopped the job's container"
    assert (job["container"]["exitCode"], len(job["attempts"])) == (137, 1)


@pytest.mark.docker
def test_with_a_state_dir_sigterm_leaves_the_container_running_for_the_next_start(
    docker_engine: None, serve: Callable[..., Served], tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    served = serve("docker", "--state-dir", state)
    job_id = run_until_running(served, ["sh", "-c", "echo started; sleep 3; echo finished"])
    status, seconds = served.signal(signal.SIGTERM)
    assert (status, seconds < EXIT_SECONDS) == (0, True)
    assert "left 1 running job for the next start to re-attach" in served.stderr()
    assert len(containers_of(job_id)) == 1

    again = serve("docker", "--state-dir", state)
    job = wait_status(again.client(), job_id, {"SUCCEEDED", "FAILED"})
    assert (job["status"], job["container"]["exitCode"], len(job["attempts"])) == ("SUCCEEDED", 0, 1)
    assert again.signal(signal.SIGTERM)[0] == 0
    assert containers_of(job_id) == []


@pytest.mark.docker
def test_a_server_started_after_a_kill_9_removes_the_dead_servers_containers_and_not_a_live_ones(
    docker_engine: None, serve: Callable[..., Served]
) -> None:
    dead, live = serve("docker"), serve("docker")
    dead_job = run_until_running(dead, ["sleep", "300"])
    live_job = run_until_running(live, ["sleep", "300"])
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.wait(timeout=10)
    assert len(containers_of(dead_job)) == 1  # what SIGKILL leaves behind

    serve("docker")  # removes orphans before its ready line

    assert containers_of(dead_job) == []
    assert len(containers_of(live_job)) == 1
    assert wait_status(live.client(), live_job, {"RUNNING"})["status"] == "RUNNING"
    assert live.signal(signal.SIGTERM)[0] == 0
    assert containers_of(live_job) == []


def test_a_server_started_after_a_kill_9_kills_the_dead_process_runners_jobs_and_not_a_live_ones(
    serve: Callable[..., Served],
) -> None:
    dead_marker, live_marker = (f"{uuid.uuid4().int % 10**6}.{n}" for n in (25, 75))
    dead, live = serve("process"), serve("process")
    run_until_running(dead, ["sh", "-c", f"sleep {dead_marker}"])
    run_until_running(live, ["sh", "-c", f"sleep {live_marker}"])
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.wait(timeout=10)
    assert processes_with(f"sleep {dead_marker}")  # what SIGKILL leaves behind

    serve("process")  # kills orphaned groups before its ready line

    deadline = time.monotonic() + 5
    while processes_with(f"sleep {dead_marker}") and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered, the processes take a moment to vanish
    assert processes_with(f"sleep {dead_marker}") == []
    assert processes_with(f"sleep {live_marker}")
    assert live.signal(signal.SIGTERM)[0] == 0
    assert processes_with(f"sleep {live_marker}") == []

"""--state-dir: resources and jobs survive a restart with their history; lost work is retried."""

from __future__ import annotations

from pathlib import Path

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings
from tests.helpers import compute_resources, container, make_client

COMPUTE = compute_resources(4)
CONTAINER = container(["true"], memory=128)


def emulator_on(state_dir: Path) -> Emulator:
    return Emulator(Settings(runner="simulated", state_dir=str(state_dir)), clock=FakeClock())


def provision(batch) -> None:  # type: ignore[no-untyped-def]
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=COMPUTE)
    batch.create_job_queue(
        jobQueueName="q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
        tags={"a": "b"},
    )
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=CONTAINER)
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=CONTAINER)


def test_resources_and_finished_jobs_survive_a_restart(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        batch = make_client(server.endpoint)
        provision(batch)
        first.run_until_idle()
        job_id = batch.submit_job(jobName="done", jobQueue="q", jobDefinition="jd")["jobId"]
        first.run_until_idle()
        before = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    second = emulator_on(tmp_path)
    with ServerThread(second) as server:
        batch = make_client(server.endpoint)
        after = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert after == before
        queue = batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]
        assert (queue["status"], queue["tags"]) == ("VALID", {"a": "b"})
        revisions = [
            d["revision"] for d in batch.describe_job_definitions(jobDefinitionName="jd")["jobDefinitions"]
        ]
        assert sorted(revisions) == [1, 2]
        assert (
            batch.register_job_definition(
                jobDefinitionName="jd", type="container", containerProperties=CONTAINER
            )["revision"]
            == 3
        )
        history = [
            status for _, status, _ in second.store.backend("123456789012", "us-east-1").jobs[job_id].history
        ]
        assert history == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]


def test_work_lost_in_a_restart_fails_with_host_terminated_and_is_retried(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        batch = make_client(server.endpoint)
        provision(batch)
        first.run_until_idle()
        long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "1000"}]}
        job_id = batch.submit_job(
            jobName="lost",
            jobQueue="q",
            jobDefinition="jd",
            containerOverrides=long,
            retryStrategy={"attempts": 2},
        )["jobId"]
        first.run_until_idle()
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
    second = emulator_on(tmp_path)
    with ServerThread(second) as server:
        batch = make_client(server.endpoint)
        second.run_until_idle()
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert job["status"] == "RUNNING"
        assert len(job["attempts"]) == 1
        assert job["attempts"][0]["statusReason"].startswith("Host EC2 (instance i-")
        assert job["attempts"][0]["statusReason"].endswith(") terminated.")


def test_reset_clears_the_state_directory(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        provision(make_client(server.endpoint))
        first.reset()
    second = emulator_on(tmp_path)
    assert second.store.backends() == []

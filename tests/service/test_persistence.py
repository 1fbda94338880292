"""--state-dir: resources, jobs and instances survive a restart with their history; lost work is retried."""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings
from batchemu.persistence import FILE_NAME
from batchemu.runners.base import ContainerSpec
from batchemu.runners.simulated import SimulatedAttempt, SimulatedRunner
from batchemu.scheduler.instances import SCALE_IN_IDLE_SECONDS
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


def test_a_finished_multi_container_job_survives_a_restart_with_each_containers_result(
    tmp_path: Path,
) -> None:
    first = emulator_on(tmp_path)
    task = {
        "taskProperties": [
            {
                "containers": [
                    {"name": "main", "image": "busybox", "command": ["true"]},
                    {"name": "side", "image": "busybox", "command": ["true"], "essential": False},
                ]
            }
        ]
    }
    with ServerThread(first) as server:
        batch = make_client(server.endpoint)
        provision(batch)
        batch.register_job_definition(jobDefinitionName="task", type="container", ecsProperties=task)
        first.run_until_idle()
        job_id = batch.submit_job(jobName="done", jobQueue="q", jobDefinition="task")["jobId"]
        first.run_until_idle()
        before = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        assert before["status"] == "SUCCEEDED"
    second = emulator_on(tmp_path)
    with ServerThread(second) as server:
        after = make_client(server.endpoint).describe_jobs(jobs=[job_id])["jobs"][0]
        assert after == before
        names = [c["name"] for c in after["attempts"][0]["taskProperties"][0]["containers"]]
        assert names == ["main", "side"]


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


# -- instances -------------------------------------------------------------------------------------


class ReattachingRunner(SimulatedRunner):
    """Simulated work that outlives its server, as Docker containers do: a later runner finds it again."""

    def __init__(self, clock: FakeClock, survivors: dict[tuple[str, int], SimulatedAttempt]) -> None:
        super().__init__(clock)
        self.survivors = survivors

    def start(self, spec: ContainerSpec) -> SimulatedAttempt:
        handle = super().start(spec)
        self.survivors[(spec.job_id, spec.attempt)] = handle
        return handle

    def find_running(self, job_id: str, attempt: int | None = None) -> SimulatedAttempt | None:
        return self.survivors.get((job_id, attempt or 1))


def restartable(
    state_dir: Path, clock: FakeClock, survivors: dict[tuple[str, int], SimulatedAttempt]
) -> Emulator:
    settings = Settings(runner="simulated", state_dir=str(state_dir))
    return Emulator(settings, clock=clock, runner=ReattachingRunner(clock, survivors))


def two_vcpu_job(batch: Any, name: str, seconds: int) -> str:
    environment = [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)}]
    job_id: str = batch.submit_job(
        jobName=name,
        jobQueue="q",
        jobDefinition="two",
        containerOverrides={"environment": environment},
    )["jobId"]
    return job_id


def listed_instances(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/_batchemu/instances") as response:
        rows: list[dict[str, Any]] = json.loads(response.read())["instances"]
    return rows


def desired_vcpus(batch: Any) -> int:
    found = batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"][0]
    return int(found["computeResources"]["desiredvCpus"])


def test_instances_survive_a_restart_with_their_jobs_and_scale_in_as_before(tmp_path: Path) -> None:
    clock, survivors = FakeClock(), {}  # type: ignore[var-annotated]
    first = restartable(tmp_path, clock, survivors)
    with ServerThread(first) as server:
        batch = make_client(server.endpoint)
        resources = {**compute_resources(16), "instanceTypes": ["c5.large"]}  # 2 vCPUs each
        batch.create_compute_environment(
            computeEnvironmentName="ce", type="MANAGED", computeResources=resources
        )
        batch.create_job_queue(
            jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
        )
        batch.register_job_definition(
            jobDefinitionName="two", type="container", containerProperties=container(["true"], vcpus=2)
        )
        first.run_until_idle()
        long = two_vcpu_job(batch, "long", 10_000)
        short = two_vcpu_job(batch, "short", 10)
        first.run_until_idle()
        first.advance(20)
        first.run_until_idle()
        assert batch.describe_jobs(jobs=[short])["jobs"][0]["status"] == "SUCCEEDED"
        before = {row["instanceId"]: row for row in listed_instances(server.endpoint)}
        busy = next(row for row in before.values() if row["jobs"] == [long])
        [idle] = [row for row in before.values() if row["jobs"] == []]
        idle_since = first.scheduler.placer.fleets.instance(idle["containerInstanceArn"]).idle_since  # type: ignore[union-attr]
        assert idle_since is not None
        assert desired_vcpus(batch) == 4
    first.stop()

    second = restartable(tmp_path, clock, survivors)
    with ServerThread(second) as server:
        batch = make_client(server.endpoint)
        second.run_until_idle()
        after = {row["instanceId"]: row for row in listed_instances(server.endpoint)}
        assert after == before  # same ids, ARNs and types; the long job still on its instance
        job = batch.describe_jobs(jobs=[long])["jobs"][0]
        assert job["status"] == "RUNNING"
        assert job["container"]["containerInstanceArn"] == busy["containerInstanceArn"]
        assert desired_vcpus(batch) == 4
        # The idle instance goes when it has been idle for the scale-in time, counted from before the restart.
        clock.advance((idle_since + SCALE_IN_IDLE_SECONDS * 1000 - 1000) / 1000 - clock.now())
        second.run_until_idle()
        assert idle["instanceId"] in {row["instanceId"] for row in listed_instances(server.endpoint)}
        second.advance(2)
        second.run_until_idle()
        assert [row["instanceId"] for row in listed_instances(server.endpoint)] == [busy["instanceId"]]
        assert desired_vcpus(batch) == 2
        # The busy instance is full (its job is accounted there): a new job gets an instance of its own.
        extra = two_vcpu_job(batch, "extra", 10_000)
        second.run_until_idle()
        placed = batch.describe_jobs(jobs=[extra])["jobs"][0]["container"]["containerInstanceArn"]
        assert placed != busy["containerInstanceArn"]
        assert desired_vcpus(batch) == 4
    second.stop()


def test_instances_are_written_in_the_state_file_with_the_jobs(tmp_path: Path) -> None:
    first = emulator_on(tmp_path)
    with ServerThread(first) as server:
        batch = make_client(server.endpoint)
        provision(batch)
        first.run_until_idle()
        batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")
        first.run_until_idle()
        [row] = listed_instances(server.endpoint)
    first.stop()
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        [(body,)] = db.execute("SELECT body FROM instances").fetchall()
    assert [i["instance_id"] for i in json.loads(body)["fleets"][0]["instances"]] == [row["instanceId"]]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(FILE_NAME)) == []


FOREIGN = [
    b"not a database at all" * 100,
    "CREATE TABLE jobs (name TEXT, size INTEGER)",
    "CREATE TABLE notes (text TEXT)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('format', '99')",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE jobs (account TEXT, region TEXT, "
    "id TEXT, body TEXT, PRIMARY KEY (account, region, id)); INSERT INTO jobs VALUES ('1', 'r', 'j', '{bad')",
]


@pytest.mark.parametrize("content", FOREIGN, ids=["garbage", "foreign-jobs", "foreign", "newer", "bad-row"])
def test_a_corrupt_or_foreign_state_file_is_set_aside_with_a_warning(
    tmp_path: Path, content: bytes | str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / FILE_NAME
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with sqlite3.connect(path) as db:
            db.executescript(content)
    with caplog.at_level(logging.WARNING, logger="batchemu.persistence"):
        emulator = emulator_on(tmp_path)
    with ServerThread(emulator) as server:
        batch = make_client(server.endpoint)
        assert batch.describe_job_queues()["jobQueues"] == []
        provision(batch)  # and the new file works
    [aside] = [
        p for p in tmp_path.iterdir() if ".unreadable-" in p.name and not p.name.endswith(("-wal", "-shm"))
    ]
    assert "is kept as" in caplog.text and aside.name in caplog.text
    if isinstance(content, bytes):
        assert aside.read_bytes() == content
    again = emulator_on(tmp_path)
    assert [q.name for b in again.store.backends() for q in b.job_queues.values()] == ["q"]
    again.stop()

"""A queue with a backlog, through boto3 on a fake clock: FIFO order kept as capacity frees, the queue
snapshot's front, a never-fitting head blocking its queue while a job waiting for capacity does not."""

from __future__ import annotations

from typing import Any

from batchemu import Emulator
from tests.helpers import container, describe, provision


def definition(batch: Any, name: str, vcpus: int = 1, seconds: int = 10, memory: int = 512) -> None:
    properties = container(["true"], vcpus=vcpus, memory=memory)
    properties["environment"] = [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)}]
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=properties)


def submit_many(batch: Any, queue: str, name: str, count: int) -> list[str]:
    return [
        batch.submit_job(jobName=f"{name}{i}", jobQueue=queue, jobDefinition=name)["jobId"]
        for i in range(count)
    ]


def test_a_backlog_runs_in_submission_order_as_capacity_frees(batch: Any, emulator: Emulator) -> None:
    queue = provision(batch, max_vcpus=1)
    definition(batch, "ten")
    emulator.run_until_idle()
    ids = submit_many(batch, queue, "ten", 60)
    emulator.run_until_idle()
    assert [describe(batch, i)["status"] for i in ids[:2]] == ["RUNNING", "RUNNABLE"]
    for _ in range(60):
        emulator.advance(10)
        emulator.run_until_idle()
    jobs = batch.describe_jobs(jobs=ids[:60][:100])["jobs"]
    assert all(job["status"] == "SUCCEEDED" for job in jobs)
    started = [job["startedAt"] for job in sorted(jobs, key=lambda job: ids.index(job["jobId"]))]
    assert started == sorted(started)


def test_the_queue_snapshot_shows_the_first_hundred_in_dispatch_order(batch: Any, emulator: Emulator) -> None:
    queue = provision(batch, max_vcpus=1)
    definition(batch, "long", seconds=1000)
    emulator.run_until_idle()
    ids = submit_many(batch, queue, "long", 150)
    emulator.run_until_idle()
    front = batch.get_job_queue_snapshot(jobQueue=queue)["frontOfQueue"]["jobs"]
    arns = {job["jobArn"].rsplit("/", 1)[-1] for job in front}
    assert len(front) == 100
    assert [job["jobArn"].rsplit("/", 1)[-1] for job in front] == ids[1:101]
    assert ids[0] not in arns  # running, not queued


def test_a_head_that_never_fits_blocks_its_queue_but_one_waiting_for_capacity_does_not(
    batch: Any, emulator: Emulator
) -> None:
    queue = provision(batch, max_vcpus=4)
    definition(batch, "small", vcpus=1, seconds=100)
    definition(batch, "wide", vcpus=4, seconds=100)
    definition(batch, "huge", vcpus=8, seconds=100)
    emulator.run_until_idle()
    [running] = submit_many(batch, queue, "small", 1)
    [waiting] = submit_many(batch, queue, "wide", 1)  # needs all 4 vCPUs: waits for capacity
    smaller = submit_many(batch, queue, "small", 2)  # pass the wide job that waits
    emulator.run_until_idle()
    assert describe(batch, running)["status"] == "RUNNING"
    assert describe(batch, waiting)["status"] == "RUNNABLE"
    assert [describe(batch, i)["status"] for i in smaller] == ["RUNNING", "RUNNING"]
    [huge] = submit_many(batch, queue, "huge", 1)  # more than maxvCpus: never fits
    behind = submit_many(batch, queue, "small", 1)
    emulator.advance(100)
    emulator.run_until_idle()
    assert describe(batch, waiting)["status"] == "RUNNING"  # ahead of the blocked head
    blocked = describe(batch, huge)
    assert blocked["status"] == "RUNNABLE"
    assert blocked["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    assert describe(batch, behind[0])["status"] == "RUNNABLE"  # held behind the blocked head
    batch.cancel_job(jobId=huge, reason="too big")
    emulator.advance(100)
    emulator.run_until_idle()
    assert describe(batch, behind[0])["status"] in ("RUNNING", "SUCCEEDED")

"""Consumable resources limit how many jobs run at once (scheduling effect, through boto3)."""

from __future__ import annotations

from batchemu import Emulator
from tests.helpers import container, provision


def setup(batch, emulator: Emulator, resource_type: str) -> None:  # type: ignore[no-untyped-def]
    provision(batch, max_vcpus=16)
    batch.create_consumable_resource(
        consumableResourceName="licence", totalQuantity=2, resourceType=resource_type
    )
    batch.register_job_definition(
        jobDefinitionName="licensed",
        type="container",
        containerProperties=container(
            ["true"], memory=256, environment=[{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "10"}]
        ),
        consumableResourceProperties={
            "consumableResourceList": [{"consumableResource": "licence", "quantity": 1}]
        },
    )
    emulator.run_until_idle()


def statuses(batch, ids: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    by_id = {job["jobId"]: job["status"] for job in batch.describe_jobs(jobs=ids)["jobs"]}
    return [by_id[job_id] for job_id in ids]


def test_replenishable_resource_limits_concurrent_jobs(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    setup(batch, emulator, "REPLENISHABLE")
    ids = [
        batch.submit_job(jobName=f"j{i}", jobQueue="q", jobDefinition="licensed")["jobId"] for i in range(3)
    ]
    emulator.run_until_idle()
    assert statuses(batch, ids) == ["RUNNING", "RUNNING", "RUNNABLE"]
    described = batch.describe_consumable_resource(consumableResource="licence")
    assert (described["inUseQuantity"], described["availableQuantity"]) == (2, 0)
    listed = batch.list_jobs_by_consumable_resource(consumableResource="licence")["jobs"]
    assert sorted(job["jobStatus"] for job in listed) == ["RUNNABLE", "RUNNING", "RUNNING"]
    emulator.advance(10)
    emulator.run_until_idle()
    assert statuses(batch, ids)[:2] == ["SUCCEEDED", "SUCCEEDED"]
    assert statuses(batch, ids)[2] in ("RUNNING", "SUCCEEDED")


def test_non_replenishable_resource_is_used_up(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    setup(batch, emulator, "NON_REPLENISHABLE")
    ids = [
        batch.submit_job(jobName=f"j{i}", jobQueue="q", jobDefinition="licensed")["jobId"] for i in range(3)
    ]
    emulator.run_until_idle()
    emulator.advance(10)
    emulator.run_until_idle()
    emulator.advance(10)
    emulator.run_until_idle()
    assert statuses(batch, ids) == ["SUCCEEDED", "SUCCEEDED", "RUNNABLE"]
    assert batch.describe_consumable_resource(consumableResource="licence")["totalQuantity"] == 0

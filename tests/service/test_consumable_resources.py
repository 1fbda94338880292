"""Consumable resources through boto3, plus the job-driven quantity accounting through the handlers on a
standalone backend (jobs in exact STARTING/RUNNING states cannot be held still under the live scheduler)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from batchemu.clock import FakeClock
from batchemu.domain.models import Job
from batchemu.domain.store import Backend
from batchemu.service import consumable_resources
from batchemu.service.extras import settle_extras
from batchemu.service.operation import RequestContext
from tests.helpers import error_of

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN_PREFIX = f"arn:aws:batch:{REGION}:{ACCOUNT}:consumable-resource/"


def add_job(backend: Backend, job_id: str, status: str, needs: dict[str, int], name: str = "job") -> Job:
    """A job that names consumable resources; RUNNABLE in an unknown queue, or finished, so the scheduler
    leaves it alone."""
    requirements = [
        {"consumable_resource": resource, "quantity": quantity} for resource, quantity in needs.items()
    ]
    job = Job(
        id=job_id,
        arn=f"arn:aws:batch:{REGION}:{ACCOUNT}:job/{job_id}",
        name=name,
        job_queue_arn=f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/elsewhere",
        job_definition_arn=f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/licensed:1",
        created_at=1_700_000_000_000,
        status=status,
        consumable_resource_properties={"consumable_resource_list": requirements},
    )
    backend.add_job(job)
    return job


def test_create_returns_name_and_arn(batch):
    created = batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    assert created["consumableResourceName"] == "licenses"
    assert created["consumableResourceArn"] == ARN_PREFIX + "licenses"


def test_describe_reports_quantities_type_time_and_tags(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10, tags={"team": "a"})
    described = batch.describe_consumable_resource(consumableResource="licenses")
    assert described["consumableResourceArn"] == ARN_PREFIX + "licenses"
    assert (described["totalQuantity"], described["inUseQuantity"], described["availableQuantity"]) == (
        10,
        0,
        10,
    )
    assert described["resourceType"] == "REPLENISHABLE"
    assert described["createdAt"] == int(emulator.clock.now() * 1000)
    assert described["tags"] == {"team": "a"}


def test_describe_accepts_the_arn(batch):
    arn = batch.create_consumable_resource(consumableResourceName="db-slots", totalQuantity=3)[
        "consumableResourceArn"
    ]
    assert batch.describe_consumable_resource(consumableResource=arn)["consumableResourceName"] == "db-slots"


def test_non_replenishable_type_is_kept(batch):
    batch.create_consumable_resource(
        consumableResourceName="tokens", totalQuantity=5, resourceType="NON_REPLENISHABLE"
    )
    assert (
        batch.describe_consumable_resource(consumableResource="tokens")["resourceType"] == "NON_REPLENISHABLE"
    )


def test_unknown_resource_type_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_consumable_resource(consumableResourceName="x", totalQuantity=1, resourceType="FOREVER")
    assert "resourceType must be one of REPLENISHABLE, NON_REPLENISHABLE, got FOREVER" in error_of(raised)[1]


def test_duplicate_name_is_refused(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=1)
    with pytest.raises(ClientError) as raised:
        batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=2)
    assert error_of(raised) == ("ClientException", "ConsumableResource licenses already exists.")


def test_bad_name_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_consumable_resource(consumableResourceName="-bad name", totalQuantity=1)
    code, message = error_of(raised)
    assert code == "ClientException"
    assert message.startswith(
        "Error executing request, Exception : Consumable resource name -bad name is not valid"
    )


def test_negative_total_quantity_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=-1)
    assert "totalQuantity must be non-negative, got -1" in error_of(raised)[1]


def test_describe_unknown_resource_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.describe_consumable_resource(consumableResource="nope")
    assert error_of(raised) == ("ClientException", "ConsumableResource nope not found.")


def test_arn_of_another_region_is_not_found(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=1)
    other = f"arn:aws:batch:eu-west-1:{ACCOUNT}:consumable-resource/licenses"
    with pytest.raises(ClientError) as raised:
        batch.describe_consumable_resource(consumableResource=other)
    assert error_of(raised)[1] == f"ConsumableResource {other} not found."


@pytest.mark.parametrize(
    ("operation", "quantity", "expected"), [("SET", 4, 4), ("ADD", 4, 14), ("REMOVE", 4, 6)]
)
def test_update_applies_set_add_and_remove(batch, operation, quantity, expected):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    updated = batch.update_consumable_resource(
        consumableResource="licenses", operation=operation, quantity=quantity
    )
    assert updated["totalQuantity"] == expected
    assert updated["consumableResourceArn"] == ARN_PREFIX + "licenses"
    assert batch.describe_consumable_resource(consumableResource="licenses")["availableQuantity"] == expected


def test_update_without_operation_sets_the_quantity(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    assert batch.update_consumable_resource(consumableResource="licenses", quantity=7)["totalQuantity"] == 7


def test_update_cannot_remove_more_than_the_total(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=3)
    with pytest.raises(ClientError) as raised:
        batch.update_consumable_resource(consumableResource="licenses", operation="REMOVE", quantity=4)
    assert "Cannot remove 4 from consumable resource licenses: its total quantity is 3" in error_of(raised)[1]


def test_update_refuses_an_unknown_operation(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=3)
    with pytest.raises(ClientError) as raised:
        batch.update_consumable_resource(consumableResource="licenses", operation="DOUBLE", quantity=1)
    assert "operation must be one of SET, ADD, REMOVE, got DOUBLE" in error_of(raised)[1]


def test_update_with_the_same_client_token_applies_once(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    for _ in range(2):
        updated = batch.update_consumable_resource(
            consumableResource="licenses", operation="ADD", quantity=5, clientToken="token-1"
        )
        assert updated["totalQuantity"] == 15
    assert batch.describe_consumable_resource(consumableResource="licenses")["totalQuantity"] == 15


def test_client_token_reused_for_another_update_is_refused(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    batch.update_consumable_resource(
        consumableResource="licenses", operation="ADD", quantity=5, clientToken="t"
    )
    with pytest.raises(ClientError) as raised:
        batch.update_consumable_resource(
            consumableResource="licenses", operation="ADD", quantity=6, clientToken="t"
        )
    assert error_of(raised)[1] == "clientToken t was already used with a different request"


def test_client_token_expires_after_eight_hours(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=10)
    batch.update_consumable_resource(
        consumableResource="licenses", operation="ADD", quantity=5, clientToken="t"
    )
    emulator.advance(8 * 3600)
    updated = batch.update_consumable_resource(
        consumableResource="licenses", operation="ADD", quantity=5, clientToken="t"
    )
    assert updated["totalQuantity"] == 20


def test_list_pages_with_an_opaque_token(batch):
    for name in ("a1", "a2", "a3"):
        batch.create_consumable_resource(consumableResourceName=name, totalQuantity=1)
    first = batch.list_consumable_resources(maxResults=2)
    assert [r["consumableResourceName"] for r in first["consumableResources"]] == ["a1", "a2"]
    second = batch.list_consumable_resources(maxResults=2, nextToken=first["nextToken"])
    assert [r["consumableResourceName"] for r in second["consumableResources"]] == ["a3"]
    assert "nextToken" not in second


def test_list_works_with_the_boto3_paginator(batch):
    for index in range(5):
        batch.create_consumable_resource(consumableResourceName=f"r{index}", totalQuantity=index)
    pages = batch.get_paginator("list_consumable_resources").paginate(PaginationConfig={"PageSize": 2})
    summaries = [summary for page in pages for summary in page["consumableResources"]]
    assert [s["totalQuantity"] for s in summaries] == [0, 1, 2, 3, 4]
    assert summaries[0] == {
        "consumableResourceArn": ARN_PREFIX + "r0",
        "consumableResourceName": "r0",
        "totalQuantity": 0,
        "inUseQuantity": 0,
        "resourceType": "REPLENISHABLE",
    }


def test_list_filters_by_name_case_insensitively_with_a_trailing_star(batch):
    for name in ("License-A", "license-b", "db"):
        batch.create_consumable_resource(consumableResourceName=name, totalQuantity=1)
    listed = batch.list_consumable_resources(
        filters=[{"name": "CONSUMABLE_RESOURCE_NAME", "values": ["LICENSE*"]}]
    )
    assert [r["consumableResourceName"] for r in listed["consumableResources"]] == ["License-A", "license-b"]
    exact = batch.list_consumable_resources(filters=[{"name": "CONSUMABLE_RESOURCE_NAME", "values": ["DB"]}])
    assert [r["consumableResourceName"] for r in exact["consumableResources"]] == ["db"]


def test_list_refuses_an_unknown_filter(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_consumable_resources(filters=[{"name": "COLOUR", "values": ["red"]}])
    assert "Invalid filter name COLOUR; valid names are CONSUMABLE_RESOURCE_NAME" in error_of(raised)[1]


def test_list_refuses_a_forged_token(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_consumable_resources(nextToken="not-a-token")
    assert "Invalid nextToken not-a-token" in error_of(raised)[1]


def test_list_refuses_max_results_over_100(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_consumable_resources(maxResults=101)
    assert "maxResults must be between 1 and 100, got 101" in error_of(raised)[1]


def test_delete_removes_the_resource(batch):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=1)
    assert batch.delete_consumable_resource(consumableResource=ARN_PREFIX + "licenses")["ResponseMetadata"]
    assert batch.list_consumable_resources()["consumableResources"] == []


def test_delete_is_refused_while_an_unfinished_job_requires_it(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=1)
    add_job(emulator.store.backend(ACCOUNT, REGION), "job-1", "RUNNABLE", {"licenses": 1})
    with pytest.raises(ClientError) as raised:
        batch.delete_consumable_resource(consumableResource="licenses")
    assert error_of(raised)[1] == "Cannot delete consumable resource licenses: 1 unfinished job(s) require it"


def test_delete_unknown_resource_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.delete_consumable_resource(consumableResource="nope")
    assert error_of(raised)[1] == "ConsumableResource nope not found."


def test_list_jobs_returns_the_jobs_that_require_the_resource(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=5)
    backend = emulator.store.backend(ACCOUNT, REGION)
    add_job(backend, "job-1", "RUNNABLE", {"licenses": 2}, name="render")
    add_job(backend, "job-2", "SUCCEEDED", {ARN_PREFIX + "licenses": 1}, name="train")
    add_job(backend, "job-3", "RUNNABLE", {"other": 1})
    jobs = batch.list_jobs_by_consumable_resource(consumableResource="licenses")["jobs"]
    assert [(j["jobName"], j["jobStatus"], j["quantity"]) for j in jobs] == [
        ("render", "RUNNABLE", 2),
        ("train", "SUCCEEDED", 1),
    ]
    assert jobs[0]["jobArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:job/job-1"
    assert jobs[0]["consumableResourceProperties"] == {
        "consumableResourceList": [{"consumableResource": "licenses", "quantity": 2}]
    }


def test_list_jobs_filters_by_status(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=5)
    backend = emulator.store.backend(ACCOUNT, REGION)
    add_job(backend, "job-1", "RUNNABLE", {"licenses": 2})
    add_job(backend, "job-2", "FAILED", {"licenses": 1})
    jobs = batch.list_jobs_by_consumable_resource(
        consumableResource="licenses", filters=[{"name": "JOB_STATUS", "values": ["FAILED"]}]
    )["jobs"]
    assert [j["jobStatus"] for j in jobs] == ["FAILED"]


def test_list_jobs_filters_by_name_prefix(batch, emulator):
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=5)
    backend = emulator.store.backend(ACCOUNT, REGION)
    add_job(backend, "job-1", "RUNNABLE", {"licenses": 1}, name="Render-1")
    add_job(backend, "job-2", "RUNNABLE", {"licenses": 1}, name="train")
    jobs = batch.list_jobs_by_consumable_resource(
        consumableResource="licenses", filters=[{"name": "JOB_NAME", "values": ["render*"]}]
    )["jobs"]
    assert [j["jobName"] for j in jobs] == ["Render-1"]


def test_list_jobs_of_an_unknown_resource_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_jobs_by_consumable_resource(consumableResource="nope")
    assert error_of(raised)[1] == "ConsumableResource nope not found."


# -- accounting, through the handlers on a backend no scheduler touches ------------------------------
@pytest.fixture
def ctx() -> RequestContext:
    backend = Backend(ACCOUNT, REGION)
    return RequestContext(account=ACCOUNT, region=REGION, request_id="r", backend=backend, clock=FakeClock())


def describe(ctx: RequestContext) -> tuple[int, int, int]:
    found = consumable_resources.describe_consumable_resource(ctx, {"consumable_resource": "licenses"})
    return found["total_quantity"], found["in_use_quantity"], found["available_quantity"]


def test_replenishable_quantity_is_in_use_while_a_job_runs_and_comes_back_after(ctx):
    consumable_resources.create_consumable_resource(
        ctx, {"consumable_resource_name": "licenses", "total_quantity": 10}
    )
    job = add_job(ctx.backend, "job-1", "RUNNING", {"licenses": 3})
    assert describe(ctx) == (10, 3, 7)
    job.status = "SUCCEEDED"
    assert describe(ctx) == (10, 0, 10)


def test_non_replenishable_quantity_leaves_the_total_once_a_job_starts(ctx):
    request = {
        "consumable_resource_name": "licenses",
        "total_quantity": 10,
        "resource_type": "NON_REPLENISHABLE",
    }
    consumable_resources.create_consumable_resource(ctx, request)
    job = add_job(ctx.backend, "job-1", "STARTING", {"licenses": 3})
    assert describe(ctx) == (7, 3, 7)
    assert settle_extras(ctx.backend, ctx.clock.now()) is True
    job.status = "FAILED"
    assert describe(ctx) == (7, 0, 7)
    assert settle_extras(ctx.backend, ctx.clock.now()) is False


def test_non_replenishable_consumption_is_not_counted_again_after_a_set(ctx):
    request = {
        "consumable_resource_name": "licenses",
        "total_quantity": 10,
        "resource_type": "NON_REPLENISHABLE",
    }
    consumable_resources.create_consumable_resource(ctx, request)
    add_job(ctx.backend, "job-1", "RUNNING", {"licenses": 4})
    consumable_resources.update_consumable_resource(
        ctx, {"consumable_resource": "licenses", "operation": "SET", "quantity": 20}
    )
    assert describe(ctx) == (20, 4, 20)


def test_jobs_that_never_started_hold_nothing(ctx):
    request = {
        "consumable_resource_name": "licenses",
        "total_quantity": 10,
        "resource_type": "NON_REPLENISHABLE",
    }
    consumable_resources.create_consumable_resource(ctx, request)
    add_job(ctx.backend, "job-1", "RUNNABLE", {"licenses": 4})
    add_job(ctx.backend, "job-2", "FAILED", {"licenses": 4})  # cancelled before it ever started
    assert describe(ctx) == (10, 0, 10)

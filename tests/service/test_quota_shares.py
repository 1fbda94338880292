"""Quota shares through boto3: virtual queues inside a quota-managed SAGEMAKER_TRAINING job queue."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests import helpers
from tests.helpers import error_of, settle

ACCOUNT, REGION = "123456789012", "us-east-1"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/sagemaker"
SHARE_ARN = QUEUE_ARN + "/quota-share/teamA"
LIMITS = [{"maxCapacity": 4, "capacityUnit": "ml.m5.large"}]
QUOTA_POLICY = {"quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}}


def sagemaker_queue(batch, emulator, name: str = "sagemaker", policy: dict | None = QUOTA_POLICY) -> str:  # type: ignore[no-untyped-def]
    return helpers.sagemaker_queue(batch, emulator, name, policy, capacity_unit="ml.m5.large")


def create(batch, name: str = "teamA", queue: str = "sagemaker", **extra) -> dict:  # type: ignore[no-untyped-def]
    arguments = {
        "quotaShareName": name,
        "jobQueue": queue,
        "capacityLimits": LIMITS,
        "resourceSharingConfiguration": {"strategy": "RESERVE"},
        "preemptionConfiguration": {"inSharePreemption": "DISABLED"},
        **extra,
    }
    return batch.create_quota_share(**arguments)


@pytest.fixture
def queue(batch, emulator) -> str:  # type: ignore[no-untyped-def]
    return sagemaker_queue(batch, emulator)


def test_create_returns_the_name_and_an_arn_under_the_job_queue(batch, queue):
    created = create(batch)
    assert (created["quotaShareName"], created["quotaShareArn"]) == ("teamA", SHARE_ARN)


def test_a_new_share_is_valid_after_a_tick(batch, emulator, queue):
    create(batch, tags={"team": "a"})
    settle(emulator)
    described = batch.describe_quota_share(quotaShareArn=SHARE_ARN)
    described.pop("ResponseMetadata")
    assert described == {
        "quotaShareName": "teamA",
        "quotaShareArn": SHARE_ARN,
        "jobQueueArn": QUEUE_ARN,
        "capacityLimits": LIMITS,
        "resourceSharingConfiguration": {"strategy": "RESERVE"},
        "preemptionConfiguration": {"inSharePreemption": "DISABLED"},
        "state": "ENABLED",
        "status": "VALID",
        "tags": {"team": "a"},
    }


def test_lend_and_borrow_defaults_to_unlimited_borrowing(batch, queue):
    create(batch, resourceSharingConfiguration={"strategy": "LEND_AND_BORROW"})
    described = batch.describe_quota_share(quotaShareArn=SHARE_ARN)
    assert described["resourceSharingConfiguration"] == {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}


def test_borrow_limit_is_refused_without_lend_and_borrow(batch, queue):
    with pytest.raises(ClientError) as raised:
        create(batch, resourceSharingConfiguration={"strategy": "LEND", "borrowLimit": 200})
    assert (
        "borrowLimit can only be applied with the LEND_AND_BORROW strategy, not LEND" in error_of(raised)[1]
    )


def test_the_same_name_in_the_same_queue_is_refused(batch, queue):
    create(batch)
    with pytest.raises(ClientError) as raised:
        create(batch, queue=QUEUE_ARN)
    assert error_of(raised) == ("ClientException", "QuotaShare teamA already exists in job queue sagemaker.")


def test_the_same_name_in_another_queue_is_a_different_share(batch, emulator, queue):
    sagemaker_queue(batch, emulator, name="other")
    assert (
        create(batch, queue="other")["quotaShareArn"]
        == f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/other/quota-share/teamA"
    )


def test_a_bad_name_is_refused(batch, queue):
    with pytest.raises(ClientError) as raised:
        create(batch, name="team A")
    assert "Quota share name team A is not valid" in error_of(raised)[1]


def test_at_most_five_capacity_limits(batch, queue):
    limits = [
        {"maxCapacity": 1, "capacityUnit": f"ml.m5.{size}"}
        for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge")
    ]
    with pytest.raises(ClientError) as raised:
        create(batch, capacityLimits=limits)
    assert "At most 5 capacity limits can be specified, got 6" in error_of(raised)[1]


def test_an_unknown_queue_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        create(batch, queue="missing")
    assert error_of(raised) == ("ClientException", "JobQueue missing not found.")


def test_a_queue_without_a_quota_share_policy_is_refused(batch, emulator):
    sagemaker_queue(batch, emulator, policy=None)
    with pytest.raises(ClientError) as raised:
        create(batch)
    assert "Job queue sagemaker has no quota-share scheduling policy" in error_of(raised)[1]


def test_describe_of_an_unknown_share_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.describe_quota_share(quotaShareArn=SHARE_ARN)
    assert error_of(raised) == ("ClientException", f"QuotaShare {SHARE_ARN} not found.")


def test_list_returns_the_queues_shares_without_tags(batch, emulator, queue):
    create(batch, name="teamA", tags={"team": "a"})
    create(batch, name="teamB")
    settle(emulator)
    shares = batch.list_quota_shares(jobQueue=QUEUE_ARN)["quotaShares"]
    assert [s["quotaShareName"] for s in shares] == ["teamA", "teamB"]
    assert all("tags" not in s and s["status"] == "VALID" for s in shares)


def test_list_pages_through_the_boto3_paginator(batch, queue):
    for index in range(5):
        create(batch, name=f"team{index}")
    first = batch.list_quota_shares(jobQueue=queue, maxResults=2)
    assert len(first["quotaShares"]) == 2 and "nextToken" in first
    pages = batch.get_paginator("list_quota_shares").paginate(
        jobQueue=queue, PaginationConfig={"PageSize": 2}
    )
    assert [s["quotaShareName"] for page in pages for s in page["quotaShares"]] == [
        f"team{i}" for i in range(5)
    ]


def test_list_of_an_unknown_queue_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_quota_shares(jobQueue="missing")
    assert error_of(raised)[1] == "JobQueue missing not found."


def test_update_changes_the_share_and_settles_valid(batch, emulator, queue):
    create(batch)
    updated = batch.update_quota_share(
        quotaShareArn=SHARE_ARN,
        capacityLimits=[{"maxCapacity": 8, "capacityUnit": "ml.m5.large"}],
        resourceSharingConfiguration={"strategy": "LEND_AND_BORROW", "borrowLimit": 50},
        preemptionConfiguration={"inSharePreemption": "ENABLED"},
        state="DISABLED",
    )
    assert updated["quotaShareArn"] == SHARE_ARN
    settle(emulator)
    described = batch.describe_quota_share(quotaShareArn=SHARE_ARN)
    assert described["capacityLimits"] == [{"maxCapacity": 8, "capacityUnit": "ml.m5.large"}]
    assert described["resourceSharingConfiguration"] == {"strategy": "LEND_AND_BORROW", "borrowLimit": 50}
    assert (
        described["preemptionConfiguration"]["inSharePreemption"],
        described["state"],
        described["status"],
    ) == (
        "ENABLED",
        "DISABLED",
        "VALID",
    )


def test_delete_requires_the_share_to_be_disabled(batch, queue):
    create(batch)
    with pytest.raises(ClientError) as raised:
        batch.delete_quota_share(quotaShareArn=SHARE_ARN)
    assert error_of(raised)[1] == "Cannot delete, QuotaShare teamA must be DISABLED first"


def test_delete_removes_the_share_and_terminates_its_jobs(batch, emulator, queue):
    create(batch)
    settle(emulator)
    payload = json.dumps({"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    job_id = batch.submit_service_job(
        jobName="train",
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=payload,
        quotaShareName="teamA",
    )["jobId"]
    batch.update_quota_share(quotaShareArn=SHARE_ARN, state="DISABLED")
    batch.delete_quota_share(quotaShareArn=SHARE_ARN)
    settle(emulator)
    assert batch.list_quota_shares(jobQueue=queue)["quotaShares"] == []
    described = batch.describe_service_job(jobId=job_id)
    assert (described["status"], described["statusReason"], described["isTerminated"]) == (
        "FAILED",
        "QuotaShare deleted",
        True,
    )
    assert described["quotaShareName"] == "teamA"


def test_a_disabled_share_accepts_no_jobs(batch, queue):
    create(batch, state="DISABLED")
    with pytest.raises(ClientError) as raised:
        batch.submit_service_job(
            jobName="train",
            jobQueue=queue,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload="{}",
            quotaShareName="teamA",
        )
    assert error_of(raised)[1] == "QuotaShare teamA is DISABLED and does not accept new jobs."


def test_list_service_jobs_filters_by_quota_share_and_status(batch, emulator, queue):
    create(batch, name="teamA")
    create(batch, name="teamB")
    for share in ("teamA", "teamB"):
        batch.submit_service_job(
            jobName=f"job-{share}",
            jobQueue=queue,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload="{}",
            quotaShareName=share,
        )
    settle(emulator)
    found = batch.list_service_jobs(
        jobQueue=queue, jobStatus="RUNNABLE", filters=[{"name": "QUOTA_SHARE_NAME", "values": ["teamB"]}]
    )
    assert [(s["jobName"], s["quotaShareName"]) for s in found["jobSummaryList"]] == [("job-teamB", "teamB")]
    none_running = batch.list_service_jobs(
        jobQueue=queue, jobStatus="RUNNING", filters=[{"name": "QUOTA_SHARE_NAME", "values": ["teamB"]}]
    )
    assert none_running["jobSummaryList"] == []


def test_tags_are_served_by_list_tags_for_resource(batch, queue):
    create(batch, tags={"team": "a"})
    assert batch.list_tags_for_resource(resourceArn=SHARE_ARN)["tags"] == {"team": "a"}

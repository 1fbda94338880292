"""Service jobs through boto3: submitted to a SAGEMAKER_TRAINING queue, RUNNABLE after a tick (batchemu
has no SageMaker to run them), described, listed, updated and terminated."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.helpers import error_of, sagemaker_queue, settle

ACCOUNT, REGION = "123456789012", "us-east-1"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/sagemaker"
PAYLOAD = json.dumps(
    {
        "TrainingJobName": "train",
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
)


def submit(batch, name: str = "train", queue: str = "sagemaker", **extra) -> dict:  # type: ignore[no-untyped-def]
    return batch.submit_service_job(
        jobName=name,
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=PAYLOAD,
        **extra,
    )


@pytest.fixture
def queue(batch, emulator) -> str:  # type: ignore[no-untyped-def]
    return sagemaker_queue(batch, emulator)


def test_submit_returns_the_service_job_arn_name_and_id(batch, queue):
    submitted = submit(batch)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", submitted["jobId"])
    assert submitted["jobArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:service-job/{submitted['jobId']}"
    assert submitted["jobName"] == "train"


def test_a_submitted_job_is_runnable_after_a_tick_and_stays_there(batch, emulator, queue):
    job_id = submit(batch)["jobId"]
    settle(emulator)
    emulator.advance(3600)
    settle(emulator)
    described = batch.describe_service_job(jobId=job_id)
    assert described["status"] == "RUNNABLE"
    assert "startedAt" not in described and "statusReason" not in described


def test_describe_echoes_the_request_in_the_model_shape(batch, emulator, queue):
    job_id = submit(
        batch,
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Capacity*"}]},
        schedulingPriority=5,
        timeoutConfig={"attemptDurationSeconds": 600},
        preemptionConfiguration={"preemptionRetriesBeforeTermination": 2},
        tags={"team": "ml"},
    )["jobId"]
    described = batch.describe_service_job(jobId=job_id)
    described.pop("ResponseMetadata")
    assert described.pop("status") in ("SUBMITTED", "RUNNABLE")
    assert described == {
        "attempts": [],
        "capacityUsage": [{"capacityUnit": "ml.m5.large", "quantity": 2.0}],
        "createdAt": int(emulator.clock.now() * 1000),
        "isTerminated": False,
        "jobArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:service-job/{job_id}",
        "jobId": job_id,
        "jobName": "train",
        "jobQueue": QUEUE_ARN,
        "retryStrategy": {
            "attempts": 3,
            "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Capacity*"}],
        },
        "schedulingPriority": 5,
        "serviceRequestPayload": PAYLOAD,
        "serviceJobType": "SAGEMAKER_TRAINING",
        "preemptionConfiguration": {"preemptionRetriesBeforeTermination": 2},
        "tags": {"team": "ml"},
        "timeoutConfig": {"attemptDurationSeconds": 600},
    }


def test_the_queue_may_be_given_by_arn(batch, queue):
    job_id = submit(batch, queue=QUEUE_ARN)["jobId"]
    assert batch.describe_service_job(jobId=job_id)["jobQueue"] == QUEUE_ARN


def test_describe_of_an_unknown_job_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.describe_service_job(jobId="nope")
    assert error_of(raised) == ("ClientException", "Service job nope not found.")


def test_submit_to_an_unknown_queue_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        submit(batch, queue="missing")
    assert error_of(raised) == ("ClientException", "JobQueue missing not found.")


def test_submit_to_an_ecs_queue_is_refused(batch, emulator):
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=4)
    settle(emulator)
    batch.create_job_queue(
        jobQueueName="ecs", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    with pytest.raises(ClientError) as raised:
        submit(batch, queue="ecs")
    assert (
        "Job queue ecs has type ECS; service jobs need a SAGEMAKER_TRAINING job queue" in error_of(raised)[1]
    )


def test_submit_to_a_disabled_queue_is_refused(batch, queue):
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    with pytest.raises(ClientError) as raised:
        submit(batch)
    assert error_of(raised)[1] == "JobQueue sagemaker is DISABLED and does not accept new jobs."


def test_a_bad_job_name_is_refused(batch, queue):
    with pytest.raises(ClientError) as raised:
        submit(batch, name="bad name")
    assert error_of(raised)[1].startswith(
        "Error executing request, Exception : Job name should match valid pattern"
    )


def test_the_payload_must_be_a_json_object(batch, queue):
    with pytest.raises(ClientError) as raised:
        batch.submit_service_job(
            jobName="train",
            jobQueue=queue,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload="[1, 2",
        )
    assert "serviceRequestPayload must be a JSON object" in error_of(raised)[1]


def test_retry_attempts_must_be_between_1_and_10(batch, queue):
    with pytest.raises(ClientError) as raised:
        submit(batch, retryStrategy={"attempts": 11})
    assert "retryStrategy attempts must be between 1 and 10, got 11" in error_of(raised)[1]


def test_scheduling_priority_must_be_at_most_9999(batch, queue):
    with pytest.raises(ClientError) as raised:
        submit(batch, schedulingPriority=10000)
    assert "schedulingPriority must be between 0 and 9999, got 10000" in error_of(raised)[1]


def test_a_second_submit_with_the_same_client_token_is_rejected(batch, queue):
    job_id = submit(batch, clientToken="once")["jobId"]
    with pytest.raises(ClientError) as raised:
        submit(batch, clientToken="once")
    assert error_of(raised)[1] == f"Service job {job_id} was already submitted with clientToken once"
    assert (
        len(
            batch.list_service_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["train"]}])[
                "jobSummaryList"
            ]
        )
        == 1
    )


def test_a_client_token_reused_for_another_job_is_rejected(batch, queue):
    submit(batch, clientToken="once")
    with pytest.raises(ClientError) as raised:
        submit(batch, name="other", clientToken="once")
    assert error_of(raised)[1] == "clientToken once was already used with a different request"


def test_share_identifier_needs_a_fair_share_queue(batch, queue):
    with pytest.raises(ClientError) as raised:
        submit(batch, shareIdentifier="teamA")
    assert (
        "shareIdentifier can't be specified: job queue sagemaker has no fair-share policy"
        in error_of(raised)[1]
    )


def test_a_quota_share_queue_requires_a_quota_share_name(batch, emulator):
    sagemaker_queue(batch, emulator, policy={"quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}})
    with pytest.raises(ClientError) as raised:
        submit(batch)
    assert error_of(raised) == ("ClientException", "quotaShareName must be specified.")


def test_an_unknown_quota_share_is_refused(batch, emulator):
    sagemaker_queue(batch, emulator, policy={"quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}})
    with pytest.raises(ClientError) as raised:
        submit(batch, quotaShareName="teamA")
    assert error_of(raised)[1] == "QuotaShare teamA not found in job queue sagemaker."


def test_list_without_status_or_filters_shows_only_running_jobs(batch, emulator, queue):
    submit(batch)
    settle(emulator)
    assert batch.list_service_jobs(jobQueue=queue)["jobSummaryList"] == []


def test_list_by_status_returns_summaries(batch, emulator, queue):
    job_id = submit(batch)["jobId"]
    settle(emulator)
    summaries = batch.list_service_jobs(jobQueue=queue, jobStatus="RUNNABLE")["jobSummaryList"]
    assert summaries == [
        {
            "capacityUsage": [{"capacityUnit": "ml.m5.large", "quantity": 2.0}],
            "createdAt": int(emulator.clock.now() * 1000),
            "jobArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:service-job/{job_id}",
            "jobId": job_id,
            "jobName": "train",
            "serviceJobType": "SAGEMAKER_TRAINING",
            "status": "RUNNABLE",
        }
    ]


def test_list_filters_by_name_case_insensitively(batch, queue):
    submit(batch, name="Train-1")
    submit(batch, name="evaluate")
    found = batch.list_service_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["train*"]}])
    assert [s["jobName"] for s in found["jobSummaryList"]] == ["Train-1"]


def test_list_filters_by_creation_time_newest_first(batch, emulator, queue):
    submit(batch, name="old")
    emulator.advance(10)
    cutoff = int(emulator.clock.now() * 1000)
    emulator.advance(10)
    submit(batch, name="new1")
    emulator.advance(10)
    submit(batch, name="new2")
    after = batch.list_service_jobs(
        jobQueue=queue, filters=[{"name": "AFTER_CREATED_AT", "values": [str(cutoff)]}]
    )
    assert [s["jobName"] for s in after["jobSummaryList"]] == ["new2", "new1"]
    before = batch.list_service_jobs(
        jobQueue=queue, filters=[{"name": "BEFORE_CREATED_AT", "values": [str(cutoff)]}]
    )
    assert [s["jobName"] for s in before["jobSummaryList"]] == ["old"]


def test_list_allows_only_one_filter(batch, queue):
    filters = [{"name": "JOB_NAME", "values": ["a"]}, {"name": "SHARE_IDENTIFIER", "values": ["b"]}]
    with pytest.raises(ClientError) as raised:
        batch.list_service_jobs(jobQueue=queue, filters=filters)
    assert "Only one filter can be used at a time" in error_of(raised)[1]


def test_list_pages_through_the_boto3_paginator(batch, emulator, queue):
    for index in range(5):
        submit(batch, name=f"job{index}")
    settle(emulator)
    pages = batch.get_paginator("list_service_jobs").paginate(
        jobQueue=queue, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 2}
    )
    assert [s["jobName"] for page in pages for s in page["jobSummaryList"]] == [f"job{i}" for i in range(5)]


def test_list_of_an_unknown_queue_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.list_service_jobs(jobQueue="missing")
    assert error_of(raised)[1] == "JobQueue missing not found."


def test_terminate_fails_the_job_with_the_reason(batch, emulator, queue):
    job_id = submit(batch)["jobId"]
    settle(emulator)
    emulator.advance(5)
    batch.terminate_service_job(jobId=job_id, reason="no longer needed")
    described = batch.describe_service_job(jobId=job_id)
    assert (described["status"], described["statusReason"], described["isTerminated"]) == (
        "FAILED",
        "no longer needed",
        True,
    )
    assert described["stoppedAt"] == int(emulator.clock.now() * 1000)


def test_terminate_of_a_finished_job_changes_nothing(batch, queue):
    job_id = submit(batch)["jobId"]
    batch.terminate_service_job(jobId=job_id, reason="first")
    batch.terminate_service_job(jobId=job_id, reason="second")
    assert batch.describe_service_job(jobId=job_id)["statusReason"] == "first"


def test_terminate_of_an_unknown_job_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.terminate_service_job(jobId="nope", reason="x")
    assert error_of(raised)[1] == "Service job nope not found."


def test_update_changes_the_scheduling_priority(batch, queue):
    submitted = submit(batch, schedulingPriority=1)
    updated = batch.update_service_job(jobId=submitted["jobId"], schedulingPriority=90)
    assert (updated["jobArn"], updated["jobName"], updated["jobId"]) == (
        submitted["jobArn"],
        "train",
        submitted["jobId"],
    )
    assert batch.describe_service_job(jobId=submitted["jobId"])["schedulingPriority"] == 90


def test_update_of_a_finished_job_is_refused(batch, queue):
    job_id = submit(batch)["jobId"]
    batch.terminate_service_job(jobId=job_id, reason="stop")
    with pytest.raises(ClientError) as raised:
        batch.update_service_job(jobId=job_id, schedulingPriority=2)
    assert error_of(raised)[1] == f"Service job {job_id} is FAILED and can no longer be updated"


def test_jobs_of_a_deleted_queue_fail(batch, emulator, queue):
    job_id = submit(batch)["jobId"]
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    batch.delete_job_queue(jobQueue=queue)
    settle(emulator)
    described = batch.describe_service_job(jobId=job_id)
    assert (described["status"], described["statusReason"]) == ("FAILED", "JobQueue deleted")


def test_tags_are_served_by_list_tags_for_resource(batch, queue):
    arn = submit(batch, tags={"team": "ml"})["jobArn"]
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}

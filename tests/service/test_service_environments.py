"""Service environments through boto3: create, describe, update, delete and their status changes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers import error_of, settle

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN_PREFIX = f"arn:aws:batch:{REGION}:{ACCOUNT}:service-environment/"
LIMITS = [{"maxCapacity": 5, "capacityUnit": "NUM_INSTANCES"}]


def create(batch, name: str = "training", **extra):  # type: ignore[no-untyped-def]
    return batch.create_service_environment(
        serviceEnvironmentName=name,
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=LIMITS,
        **extra,
    )


def describe(batch, name: str = "training") -> dict:  # type: ignore[no-untyped-def]
    return batch.describe_service_environments(serviceEnvironments=[name])["serviceEnvironments"][0]


def test_create_returns_name_and_arn(batch):
    created = create(batch)
    assert (created["serviceEnvironmentName"], created["serviceEnvironmentArn"]) == (
        "training",
        ARN_PREFIX + "training",
    )


def test_a_new_environment_is_valid_after_a_tick(batch, emulator):
    create(batch, tags={"team": "ml"})
    settle(emulator)
    assert describe(batch) == {
        "serviceEnvironmentName": "training",
        "serviceEnvironmentArn": ARN_PREFIX + "training",
        "serviceEnvironmentType": "SAGEMAKER_TRAINING",
        "state": "ENABLED",
        "status": "VALID",
        "capacityLimits": LIMITS,
        "tags": {"team": "ml"},
    }


def test_a_new_environment_may_start_disabled(batch):
    create(batch, state="DISABLED")
    assert describe(batch)["state"] == "DISABLED"


def test_duplicate_name_is_refused(batch):
    create(batch)
    with pytest.raises(ClientError) as raised:
        create(batch)
    assert error_of(raised) == ("ClientException", "ServiceEnvironment training already exists.")


def test_bad_name_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        create(batch, name="has space")
    assert "Service environment name has space is not valid" in error_of(raised)[1]


def test_capacity_limits_may_not_be_empty(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_service_environment(
            serviceEnvironmentName="training", serviceEnvironmentType="SAGEMAKER_TRAINING", capacityLimits=[]
        )
    assert error_of(raised)[1].startswith(
        "Error executing request, Exception : At least one capacity limit must be specified, RequestId: "
    )


def test_capacity_limit_needs_a_positive_max_capacity(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_service_environment(
            serviceEnvironmentName="training",
            serviceEnvironmentType="SAGEMAKER_TRAINING",
            capacityLimits=[{"maxCapacity": 0, "capacityUnit": "NUM_INSTANCES"}],
        )
    assert "maxCapacity for capacityUnit NUM_INSTANCES must be at least 1, got 0" in error_of(raised)[1]


def test_a_capacity_unit_given_twice_is_refused(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_service_environment(
            serviceEnvironmentName="training",
            serviceEnvironmentType="SAGEMAKER_TRAINING",
            capacityLimits=[{"maxCapacity": 1, "capacityUnit": "ml.m5.large"}] * 2,
        )
    assert "capacityUnit ml.m5.large is given more than once" in error_of(raised)[1]


def test_unknown_type_is_refused_by_the_model_enum(batch):
    with pytest.raises(ClientError) as raised:
        batch.create_service_environment(
            serviceEnvironmentName="training", serviceEnvironmentType="ECS", capacityLimits=LIMITS
        )
    assert "must be one of: SAGEMAKER_TRAINING" in error_of(raised)[1]


def test_describe_takes_names_and_arns_and_skips_unknown_ones(batch):
    create(batch, name="one")
    create(batch, name="two")
    found = batch.describe_service_environments(
        serviceEnvironments=["one", ARN_PREFIX + "two", "missing", "one"]
    )
    assert [e["serviceEnvironmentName"] for e in found["serviceEnvironments"]] == ["one", "two"]


def test_describe_without_names_lists_all(batch):
    create(batch, name="one")
    create(batch, name="two")
    found = batch.describe_service_environments()["serviceEnvironments"]
    assert [e["serviceEnvironmentName"] for e in found] == ["one", "two"]


def test_describe_refuses_names_with_max_results(batch):
    with pytest.raises(ClientError) as raised:
        batch.describe_service_environments(serviceEnvironments=["one"], maxResults=1)
    assert "ServiceEnvironments and MaxResults cannot both be set" in error_of(raised)[1]


def test_describe_pages_through_the_boto3_paginator(batch):
    for index in range(5):
        create(batch, name=f"env{index}")
    first = batch.describe_service_environments(maxResults=2)
    assert len(first["serviceEnvironments"]) == 2 and "nextToken" in first
    pages = batch.get_paginator("describe_service_environments").paginate(PaginationConfig={"PageSize": 2})
    names = [e["serviceEnvironmentName"] for page in pages for e in page["serviceEnvironments"]]
    assert names == [f"env{index}" for index in range(5)]


def test_update_changes_state_and_capacity_and_settles_valid(batch, emulator):
    create(batch)
    settle(emulator)
    limits = [{"maxCapacity": 2, "capacityUnit": "ml.g5.xlarge"}]
    updated = batch.update_service_environment(
        serviceEnvironment=ARN_PREFIX + "training", state="DISABLED", capacityLimits=limits
    )
    assert updated["serviceEnvironmentArn"] == ARN_PREFIX + "training"
    settle(emulator)
    found = describe(batch)
    assert (found["state"], found["status"], found["capacityLimits"]) == ("DISABLED", "VALID", limits)


def test_update_of_an_unknown_environment_is_an_error(batch):
    with pytest.raises(ClientError) as raised:
        batch.update_service_environment(serviceEnvironment="missing", state="DISABLED")
    assert error_of(raised) == ("ClientException", "ServiceEnvironment missing not found.")


def test_delete_requires_the_environment_to_be_disabled(batch):
    create(batch)
    with pytest.raises(ClientError) as raised:
        batch.delete_service_environment(serviceEnvironment="training")
    assert error_of(raised)[1] == "Cannot delete, ServiceEnvironment training must be DISABLED first"


def test_delete_is_refused_while_a_job_queue_uses_the_environment(batch, emulator):
    arn = create(batch)["serviceEnvironmentArn"]
    settle(emulator)
    batch.create_job_queue(
        jobQueueName="sagemaker",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": arn}],
    )
    batch.update_service_environment(serviceEnvironment="training", state="DISABLED")
    with pytest.raises(ClientError) as raised:
        batch.delete_service_environment(serviceEnvironment="training")
    assert error_of(raised)[1] == "Cannot delete, found existing JobQueue relationship"


def test_delete_marks_deleting_then_removes_on_the_next_tick(batch, emulator):
    create(batch, state="DISABLED")
    batch.delete_service_environment(serviceEnvironment="training")
    found = batch.describe_service_environments()["serviceEnvironments"]
    assert [e["status"] for e in found] in (
        [],
        ["DELETING"],
    )  # the background tick may already have removed it
    settle(emulator)
    assert batch.describe_service_environments()["serviceEnvironments"] == []


def test_tags_are_served_by_list_tags_for_resource(batch):
    arn = create(batch, tags={"team": "ml"})["serviceEnvironmentArn"]
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
    batch.tag_resource(resourceArn=arn, tags={"cost": "42"})
    assert describe(batch)["tags"] == {"team": "ml", "cost": "42"}

"""Compute environments through boto3: create -> CREATING -> VALID, describe, update, delete, and AWS's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from batchemu import Emulator
from tests.helpers import compute_resources

REGION, ACCOUNT = "us-east-1", "123456789012"
EC2 = compute_resources(16)
FARGATE = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}


def create(batch: Any, name: str = "ce", **fields: Any) -> dict[str, Any]:
    fields.setdefault("type", "MANAGED")
    if fields["type"] == "MANAGED":
        fields.setdefault("computeResources", EC2)
    return batch.create_compute_environment(computeEnvironmentName=name, **fields)


def describe(batch: Any, name: str = "ce") -> dict[str, Any]:
    return batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=message)


# -- create and describe ------------------------------------------------------------------------------


def test_create_returns_name_and_arn(batch: Any) -> None:
    response = create(batch)
    assert response["computeEnvironmentName"] == "ce"
    assert response["computeEnvironmentArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/ce"


def test_new_environment_is_creating_until_the_scheduler_settles_it(
    batch: Any, paused: Callable[[], None]
) -> None:
    create(batch)
    assert describe(batch)["status"] == "CREATING"
    paused()
    settled = describe(batch)
    assert (settled["status"], settled["statusReason"]) == ("VALID", "ComputeEnvironment Healthy")


def test_describe_echoes_the_environment(batch: Any, emulator: Emulator) -> None:
    create(batch, tags={"team": "a"})
    emulator.run_until_idle()
    found = describe(batch)
    assert found["type"] == "MANAGED"
    assert found["state"] == "ENABLED"
    assert found["computeResources"]["maxvCpus"] == 16
    assert found["computeResources"]["instanceTypes"] == ["optimal"]
    assert found["tags"] == {"team": "a"}
    assert found["containerOrchestrationType"] == "ECS"
    assert found["ecsClusterArn"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/ce_Batch_")
    assert len(found["uuid"]) == 36


def test_ec2_environment_gets_aws_defaults(batch: Any) -> None:
    create(batch)
    resources = describe(batch)["computeResources"]
    assert resources["allocationStrategy"] == "BEST_FIT"
    assert resources["desiredvCpus"] == 0
    assert resources["ec2Configuration"] == [{"imageType": "ECS_AL2"}]


def test_service_role_defaults_to_the_service_linked_role(batch: Any) -> None:
    create(batch)
    assert describe(batch)["serviceRole"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
    )


def test_unmanaged_environment_keeps_unmanaged_vcpus(batch: Any) -> None:
    create(batch, type="UNMANAGED", unmanagedvCpus=8)
    found = describe(batch)
    assert (found["type"], found["unmanagedvCpus"]) == ("UNMANAGED", 8)
    assert "computeResources" not in found


def test_fargate_environment_is_created(batch: Any) -> None:
    create(batch, computeResources=FARGATE)
    assert describe(batch)["computeResources"] == FARGATE


def test_environment_can_be_created_disabled(batch: Any) -> None:
    create(batch, state="DISABLED")
    assert describe(batch)["state"] == "DISABLED"


def test_describe_finds_an_environment_by_arn(batch: Any) -> None:
    arn = create(batch)["computeEnvironmentArn"]
    assert describe(batch, arn)["computeEnvironmentName"] == "ce"


def test_describe_leaves_out_unknown_names(batch: Any) -> None:
    create(batch)
    found = batch.describe_compute_environments(computeEnvironments=["nope", "ce"])["computeEnvironments"]
    assert [e["computeEnvironmentName"] for e in found] == ["ce"]


def test_describe_of_only_unknown_names_is_empty(batch: Any) -> None:
    assert batch.describe_compute_environments(computeEnvironments=["nope"])["computeEnvironments"] == []


def test_describe_refuses_a_list_together_with_max_results(batch: Any) -> None:
    with refused(
        batch, "Error executing request, Exception : ComputeEnvironments and MaxResults cannot both be set"
    ):
        batch.describe_compute_environments(computeEnvironments=["ce"], maxResults=5)


def test_describe_pages_with_max_results_and_next_token(batch: Any) -> None:
    for index in range(5):
        create(batch, f"ce{index}")
    first = batch.describe_compute_environments(maxResults=2)
    assert [e["computeEnvironmentName"] for e in first["computeEnvironments"]] == ["ce0", "ce1"]
    second = batch.describe_compute_environments(maxResults=2, nextToken=first["nextToken"])
    assert [e["computeEnvironmentName"] for e in second["computeEnvironments"]] == ["ce2", "ce3"]
    last = batch.describe_compute_environments(maxResults=2, nextToken=second["nextToken"])
    assert [e["computeEnvironmentName"] for e in last["computeEnvironments"]] == ["ce4"]
    assert "nextToken" not in last


def test_paginator_walks_every_environment(batch: Any) -> None:
    for index in range(5):
        create(batch, f"ce{index}")
    pages = batch.get_paginator("describe_compute_environments").paginate(PaginationConfig={"PageSize": 2})
    names = [e["computeEnvironmentName"] for page in pages for e in page["computeEnvironments"]]
    assert names == [f"ce{index}" for index in range(5)]


def test_describe_refuses_a_malformed_next_token(batch: Any) -> None:
    with refused(batch, "Invalid nextToken"):
        batch.describe_compute_environments(nextToken="not-a-token")


# -- create rules -------------------------------------------------------------------------------------


def test_duplicate_name_is_refused(batch: Any) -> None:
    create(batch)
    with refused(batch, "Error executing request, Exception : Object already exists, RequestId: "):
        create(batch)


def test_invalid_name_is_refused(batch: Any) -> None:
    with refused(batch, "Compute environment name should match valid pattern"):
        create(batch, "-bad")


def test_managed_environment_needs_compute_resources(batch: Any) -> None:
    with refused(batch, "computeResources must be specified for a MANAGED compute environment"):
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED")


def test_unmanaged_environment_refuses_compute_resources(batch: Any) -> None:
    with refused(batch, "computeResources is not applicable for an UNMANAGED compute environment"):
        create(batch, type="UNMANAGED", computeResources=EC2)


def test_ec2_environment_needs_an_instance_role(batch: Any) -> None:
    resources = {k: v for k, v in EC2.items() if k != "instanceRole"}
    with refused(batch, "Error executing request, Exception : Instance role is required., RequestId: "):
        create(batch, computeResources=resources)


def test_ec2_environment_needs_min_vcpus(batch: Any) -> None:
    resources = {k: v for k, v in EC2.items() if k != "minvCpus"}
    with refused(batch, "Error executing request, Exception : Resource minvCpus is required."):
        create(batch, computeResources=resources)


def test_spot_best_fit_environment_needs_a_spot_fleet_role(batch: Any) -> None:
    with pytest.raises(batch.exceptions.ClientException) as caught:
        create(batch, computeResources={**EC2, "type": "SPOT"})
    assert (
        caught.value.response["Error"]["Message"]
        == "ComputeResources.spotIamFleetRole cannot not be null or empty"
    )


@pytest.mark.parametrize("field", ["desiredvCpus", "minvCpus", "instanceRole", "tags"])
def test_fargate_environment_refuses_ec2_only_fields(batch: Any, field: str) -> None:
    value = {"desiredvCpus": 0, "minvCpus": 0, "instanceRole": "role", "tags": {"a": "b"}}[field]
    with refused(batch, f"Error executing request, Exception : {field} is not applicable for Fargate."):
        create(batch, computeResources={**FARGATE, field: value})


def test_min_vcpus_above_max_is_refused(batch: Any) -> None:
    with refused(batch, "minvCpus must be less than or equal to maxvCpus"):
        create(batch, computeResources={**EC2, "minvCpus": 32})


def test_desired_vcpus_above_max_is_refused(batch: Any) -> None:
    with refused(batch, "desiredvCpus must be less than or equal to maxvCpus"):
        create(batch, computeResources={**EC2, "desiredvCpus": 32})


def test_more_than_50_tags_are_refused(batch: Any) -> None:
    with refused(batch, "tags"):
        create(batch, tags={f"k{i}": "v" for i in range(51)})


def test_at_most_50_environments_per_region(batch: Any) -> None:
    for index in range(50):
        create(batch, f"ce{index}", type="UNMANAGED")
    with refused(batch, "at most 50 compute environments"):
        create(batch, "one-too-many", type="UNMANAGED")


# -- update -------------------------------------------------------------------------------------------


def test_update_goes_updating_then_valid(batch: Any, paused: Callable[[], None]) -> None:
    create(batch)
    paused()
    response = batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    assert response["computeEnvironmentArn"].endswith(":compute-environment/ce")
    found = describe(batch)
    assert (found["status"], found["state"]) == ("UPDATING", "DISABLED")
    paused()
    assert describe(batch)["status"] == "VALID"


def test_update_changes_scaling_limits(batch: Any) -> None:
    create(batch)
    batch.update_compute_environment(
        computeEnvironment="ce", computeResources={"minvCpus": 2, "maxvCpus": 64, "desiredvCpus": 4}
    )
    resources = describe(batch)["computeResources"]
    assert (resources["minvCpus"], resources["maxvCpus"], resources["desiredvCpus"]) == (2, 64, 4)
    assert resources["instanceRole"] == "ecsInstanceRole"


def test_update_by_arn_changes_service_role_and_update_policy(batch: Any) -> None:
    arn = create(batch)["computeEnvironmentArn"]
    batch.update_compute_environment(
        computeEnvironment=arn,
        serviceRole="arn:aws:iam::123456789012:role/batch",
        updatePolicy={"terminateJobsOnUpdate": True},
    )
    found = describe(batch)
    assert found["serviceRole"] == "arn:aws:iam::123456789012:role/batch"
    assert found["updatePolicy"] == {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 30}


def test_update_cannot_decrease_desired_vcpus(batch: Any) -> None:
    create(batch, computeResources={**EC2, "desiredvCpus": 8})
    with refused(batch, "desiredvCpus cannot be decreased"):
        batch.update_compute_environment(computeEnvironment="ce", computeResources={"desiredvCpus": 4})


def test_update_with_empty_compute_resources_is_refused(batch: Any) -> None:
    create(batch)
    with refused(batch, "At least one compute-resources attribute must be specified"):
        batch.update_compute_environment(computeEnvironment="ce", computeResources={})


def test_update_of_best_fit_environment_refuses_infrastructure_changes(batch: Any) -> None:
    create(batch)
    with refused(batch, "subnets cannot be updated when allocationStrategy is BEST_FIT"):
        batch.update_compute_environment(computeEnvironment="ce", computeResources={"subnets": ["subnet-2"]})


def test_update_of_fargate_environment_changes_subnets(batch: Any) -> None:
    create(batch, computeResources=FARGATE)
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"subnets": ["subnet-2"]})
    assert describe(batch)["computeResources"]["subnets"] == ["subnet-2"]


def test_update_of_unknown_environment_is_refused(batch: Any) -> None:
    with refused(batch, "Compute environment nope does not exist"):
        batch.update_compute_environment(computeEnvironment="nope", state="DISABLED")


# -- delete -------------------------------------------------------------------------------------------


def test_delete_goes_deleting_then_gone(batch: Any, paused: Callable[[], None]) -> None:
    create(batch, state="DISABLED")
    paused()
    assert set(batch.delete_compute_environment(computeEnvironment="ce")) == {"ResponseMetadata"}
    assert describe(batch)["status"] == "DELETING"
    paused()
    assert batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"] == []


def test_delete_refused_while_enabled(batch: Any) -> None:
    create(batch)
    with refused(batch, "Cannot delete, compute environment ce is ENABLED"):
        batch.delete_compute_environment(computeEnvironment="ce")


def test_delete_refused_while_attached_to_a_queue(batch: Any, emulator: Emulator) -> None:
    create(batch, state="DISABLED")
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    with pytest.raises(batch.exceptions.ClientException) as caught:
        batch.delete_compute_environment(computeEnvironment="ce")
    assert caught.value.response["Error"]["Message"] == "Cannot delete, found existing JobQueue relationship"


def test_delete_allowed_once_the_queue_is_gone(batch: Any, emulator: Emulator) -> None:
    create(batch, state="DISABLED")
    batch.create_job_queue(
        jobQueueName="q",
        priority=1,
        state="DISABLED",
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
    )
    batch.delete_job_queue(jobQueue="q")
    emulator.run_until_idle()
    batch.delete_compute_environment(computeEnvironment="ce")
    emulator.run_until_idle()
    assert batch.describe_compute_environments()["computeEnvironments"] == []


def test_delete_of_unknown_environment_is_refused(batch: Any) -> None:
    with refused(batch, "Compute environment nope does not exist"):
        batch.delete_compute_environment(computeEnvironment="nope")

"""Job queues through boto3: create -> CREATING -> VALID, describe, update, delete, and AWS's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from batchemu import Emulator

REGION, ACCOUNT = "us-east-1", "123456789012"
EC2 = {
    "type": "EC2",
    "minvCpus": 0,
    "maxvCpus": 16,
    "subnets": ["subnet-1"],
    "instanceRole": "ecsInstanceRole",
}
FARGATE = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
CANCEL_AFTER_10_MINUTES = {
    "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    "state": "RUNNABLE",
    "maxTimeSeconds": 600,
    "action": "CANCEL",
}


def environment(batch: Any, name: str = "ce", resources: dict[str, Any] = EC2) -> str:
    return batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", computeResources=resources
    )["computeEnvironmentArn"]


def create(batch: Any, name: str = "q", *environments: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("priority", 1)
    fields.setdefault(
        "computeEnvironmentOrder",
        [{"order": index + 1, "computeEnvironment": ce} for index, ce in enumerate(environments or ("ce",))],
    )
    return batch.create_job_queue(jobQueueName=name, **fields)


def describe(batch: Any, name: str = "q") -> dict[str, Any]:
    return batch.describe_job_queues(jobQueues=[name])["jobQueues"][0]


def policy(batch: Any, name: str = "fair") -> str:
    return batch.create_scheduling_policy(name=name, fairsharePolicy={"shareDecaySeconds": 60})["arn"]


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=message)


@pytest.fixture
def ce(batch: Any) -> str:
    return environment(batch)


# -- create and describe ------------------------------------------------------------------------------


def test_create_returns_name_and_arn(batch: Any, ce: str) -> None:
    response = create(batch)
    assert response["jobQueueName"] == "q"
    assert response["jobQueueArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/q"


def test_new_queue_is_creating_until_the_scheduler_settles_it(
    batch: Any, ce: str, paused: Callable[[], None]
) -> None:
    create(batch)
    assert describe(batch)["status"] == "CREATING"
    paused()
    found = describe(batch)
    assert (found["status"], found["statusReason"]) == ("VALID", "JobQueue Healthy")


def test_describe_echoes_the_compute_environment_arn_given_a_name(batch: Any, ce: str) -> None:
    create(batch, priority=7, tags={"team": "a"})
    found = describe(batch)
    assert found["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": ce}]
    assert (found["priority"], found["state"], found["tags"]) == (7, "ENABLED", {"team": "a"})
    assert "schedulingPolicyArn" not in found


def test_queue_accepts_compute_environment_arns(batch: Any, ce: str) -> None:
    create(batch, "q", ce)
    assert describe(batch)["computeEnvironmentOrder"][0]["computeEnvironment"] == ce


def test_queue_type_follows_its_compute_environments(batch: Any, ce: str) -> None:
    environment(batch, "fargate", FARGATE)
    create(batch, "ec2-queue", "ce")
    create(batch, "fargate-queue", "fargate")
    assert describe(batch, "ec2-queue")["jobQueueType"] == "ECS"
    assert describe(batch, "fargate-queue")["jobQueueType"] == "ECS_FARGATE"


def test_up_to_three_compute_environments_in_order(batch: Any, ce: str) -> None:
    environment(batch, "ce2")
    environment(batch, "ce3")
    create(batch, "q", "ce3", "ce", "ce2")
    names = [
        entry["computeEnvironment"].rsplit("/", 1)[1] for entry in describe(batch)["computeEnvironmentOrder"]
    ]
    assert names == ["ce3", "ce", "ce2"]


def test_job_state_time_limit_actions_are_echoed(batch: Any, ce: str) -> None:
    create(batch, jobStateTimeLimitActions=[CANCEL_AFTER_10_MINUTES])
    assert describe(batch)["jobStateTimeLimitActions"] == [CANCEL_AFTER_10_MINUTES]


def test_fair_share_queue_keeps_its_scheduling_policy(batch: Any, ce: str) -> None:
    arn = policy(batch)
    create(batch, schedulingPolicyArn=arn)
    assert describe(batch)["schedulingPolicyArn"] == arn


def test_describe_finds_a_queue_by_arn(batch: Any, ce: str) -> None:
    arn = create(batch)["jobQueueArn"]
    assert describe(batch, arn)["jobQueueName"] == "q"


def test_describe_leaves_out_unknown_queues(batch: Any, ce: str) -> None:
    create(batch)
    assert [q["jobQueueName"] for q in batch.describe_job_queues(jobQueues=["nope", "q"])["jobQueues"]] == [
        "q"
    ]


def test_describe_refuses_a_list_together_with_max_results(batch: Any) -> None:
    with refused(batch, "Error executing request, Exception : JobQueues and MaxResults cannot both be set"):
        batch.describe_job_queues(jobQueues=["q"], maxResults=1)


def test_paginator_walks_every_queue(batch: Any, ce: str) -> None:
    for index in range(5):
        create(batch, f"q{index}")
    first = batch.describe_job_queues(maxResults=3)
    assert len(first["jobQueues"]) == 3 and "nextToken" in first
    pages = batch.get_paginator("describe_job_queues").paginate(PaginationConfig={"PageSize": 2})
    assert [q["jobQueueName"] for page in pages for q in page["jobQueues"]] == [f"q{i}" for i in range(5)]


# -- create rules -------------------------------------------------------------------------------------


def test_duplicate_name_is_refused(batch: Any, ce: str) -> None:
    create(batch)
    with refused(batch, "Error executing request, Exception : Object already exists, RequestId: "):
        create(batch)


def test_invalid_name_is_refused(batch: Any, ce: str) -> None:
    with refused(batch, "Job queue name should match valid pattern"):
        create(batch, "bad name")


def test_unknown_compute_environment_is_refused(batch: Any) -> None:
    with refused(batch, "Compute environment nope does not exist"):
        create(batch, "q", "nope")


def test_queue_needs_a_compute_environment_order(batch: Any) -> None:
    with refused(batch, "computeEnvironmentOrder must be specified"):
        batch.create_job_queue(jobQueueName="q", priority=1)


def test_more_than_three_compute_environments_are_refused(batch: Any) -> None:
    for index in range(4):
        environment(batch, f"ce{index}")
    with refused(batch, "at most 3 compute environments"):
        create(batch, "q", "ce0", "ce1", "ce2", "ce3")


def test_duplicate_order_values_are_refused(batch: Any, ce: str) -> None:
    environment(batch, "ce2")
    order = [{"order": 1, "computeEnvironment": "ce"}, {"order": 1, "computeEnvironment": "ce2"}]
    with refused(batch, "must be unique"):
        create(batch, computeEnvironmentOrder=order)


def test_the_same_compute_environment_twice_is_refused(batch: Any, ce: str) -> None:
    with refused(batch, "only once"):
        create(batch, "q", "ce", ce)


def test_mixing_ec2_and_fargate_is_refused(batch: Any, ce: str) -> None:
    environment(batch, "fargate", FARGATE)
    with refused(batch, "cannot mix EC2"):
        create(batch, "q", "ce", "fargate")


def test_queue_type_must_match_its_compute_environments(batch: Any, ce: str) -> None:
    with refused(batch, "A job queue of type ECS_FARGATE takes only FARGATE compute environments"):
        create(batch, jobQueueType="ECS_FARGATE")


def test_update_cannot_move_an_ecs_queue_to_fargate(batch: Any, ce: str) -> None:
    environment(batch, "fargate", FARGATE)
    create(batch)
    with refused(batch, "A job queue of type ECS takes only EC2 compute environments"):
        batch.update_job_queue(
            jobQueue="q", computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fargate"}]
        )


@pytest.mark.parametrize("priority", [-1, 1001])
def test_priority_outside_0_to_1000_is_refused(batch: Any, ce: str, priority: int) -> None:
    with refused(batch, "priority must be between 0 and 1000"):
        create(batch, priority=priority)


def test_unknown_scheduling_policy_is_refused(batch: Any, ce: str) -> None:
    arn = f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/nope"
    with refused(batch, f"Scheduling policy {arn} does not exist"):
        create(batch, schedulingPolicyArn=arn)


@pytest.mark.parametrize("seconds", [599, 86401])
def test_time_limit_outside_600_to_86400_is_refused(batch: Any, ce: str, seconds: int) -> None:
    with refused(batch, "maxTimeSeconds must be between 600 and 86400"):
        create(batch, jobStateTimeLimitActions=[{**CANCEL_AFTER_10_MINUTES, "maxTimeSeconds": seconds}])


def test_terminate_action_is_refused_on_an_ecs_queue(batch: Any, ce: str) -> None:
    with refused(batch, "action must be CANCEL"):
        create(batch, jobStateTimeLimitActions=[{**CANCEL_AFTER_10_MINUTES, "action": "TERMINATE"}])


def test_at_most_50_queues_per_region(batch: Any, ce: str) -> None:
    for index in range(50):
        create(batch, f"q{index}")
    with refused(batch, "at most 50 job queues"):
        create(batch, "one-too-many")


# -- update -------------------------------------------------------------------------------------------


def test_update_goes_updating_then_valid(batch: Any, ce: str, paused: Callable[[], None]) -> None:
    create(batch)
    paused()
    response = batch.update_job_queue(jobQueue="q", priority=9, state="DISABLED")
    assert response["jobQueueName"] == "q"
    found = describe(batch)
    assert (found["status"], found["priority"], found["state"]) == ("UPDATING", 9, "DISABLED")
    paused()
    assert describe(batch)["status"] == "VALID"


def test_update_replaces_the_compute_environment_order(batch: Any, ce: str) -> None:
    other = environment(batch, "ce2")
    create(batch)
    batch.update_job_queue(jobQueue="q", computeEnvironmentOrder=[{"order": 5, "computeEnvironment": "ce2"}])
    assert describe(batch)["computeEnvironmentOrder"] == [{"order": 5, "computeEnvironment": other}]


def test_update_can_detach_every_compute_environment(batch: Any, ce: str) -> None:
    create(batch)
    batch.update_job_queue(jobQueue="q", computeEnvironmentOrder=[])
    assert describe(batch)["computeEnvironmentOrder"] == []


def test_update_replaces_the_scheduling_policy_of_a_fair_share_queue(batch: Any, ce: str) -> None:
    create(batch, schedulingPolicyArn=policy(batch, "first"))
    second = policy(batch, "second")
    batch.update_job_queue(jobQueue="q", schedulingPolicyArn=second)
    assert describe(batch)["schedulingPolicyArn"] == second


def test_fifo_queue_cannot_acquire_a_scheduling_policy(batch: Any, ce: str) -> None:
    create(batch)
    with refused(batch, "cannot be added to a job queue created without one"):
        batch.update_job_queue(jobQueue="q", schedulingPolicyArn=policy(batch))


def test_scheduling_policy_cannot_be_removed(batch: Any, ce: str) -> None:
    create(batch, schedulingPolicyArn=policy(batch))
    with refused(batch, "cannot be removed"):
        batch.update_job_queue(jobQueue="q", schedulingPolicyArn="")


def test_update_replaces_time_limit_actions(batch: Any, ce: str) -> None:
    create(batch)
    batch.update_job_queue(
        jobQueue="q", jobStateTimeLimitActions=[{**CANCEL_AFTER_10_MINUTES, "maxTimeSeconds": 900}]
    )
    assert describe(batch)["jobStateTimeLimitActions"][0]["maxTimeSeconds"] == 900


def test_update_of_unknown_queue_is_refused(batch: Any) -> None:
    with refused(batch, "Job queue nope does not exist"):
        batch.update_job_queue(jobQueue="nope", priority=1)


# -- delete -------------------------------------------------------------------------------------------


def test_delete_goes_deleting_then_gone(batch: Any, ce: str, paused: Callable[[], None]) -> None:
    create(batch, state="DISABLED")
    paused()
    batch.delete_job_queue(jobQueue="q")
    assert describe(batch)["status"] == "DELETING"
    paused()
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"] == []


def test_delete_refused_while_enabled(batch: Any, ce: str) -> None:
    create(batch)
    with refused(batch, "Cannot delete, job queue q is ENABLED"):
        batch.delete_job_queue(jobQueue="q")


def test_delete_after_disabling(batch: Any, ce: str, emulator: Emulator) -> None:
    arn = create(batch)["jobQueueArn"]
    batch.update_job_queue(jobQueue=arn, state="DISABLED")
    batch.delete_job_queue(jobQueue=arn)
    emulator.run_until_idle()
    assert batch.describe_job_queues()["jobQueues"] == []


def test_delete_of_unknown_queue_is_refused(batch: Any) -> None:
    with refused(batch, "Job queue nope does not exist"):
        batch.delete_job_queue(jobQueue="nope")

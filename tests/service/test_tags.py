"""TagResource, UntagResource and ListTagsForResource through boto3 on every taggable kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from batchemu import Emulator

REGION, ACCOUNT = "us-east-1", "123456789012"
CONTAINER = {"image": "busybox", "vcpus": 1, "memory": 128}


def compute_environment(batch: Any) -> str:
    return batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=4)[
        "computeEnvironmentArn"
    ]


def job_queue(batch: Any) -> str:
    compute_environment(batch)
    return batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )["jobQueueArn"]


def job_definition(batch: Any) -> str:
    return batch.register_job_definition(
        jobDefinitionName="jd", type="container", containerProperties=CONTAINER
    )["jobDefinitionArn"]


def scheduling_policy(batch: Any) -> str:
    return batch.create_scheduling_policy(name="fair")["arn"]


def job(batch: Any, **fields: Any) -> str:
    from batchemu.service import jobs

    if "SubmitJob" not in jobs.HANDLERS:
        pytest.skip("SubmitJob is not implemented yet")
    job_queue(batch)
    job_definition(batch)
    return batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd", **fields)["jobArn"]


TAGGABLE: dict[str, Callable[[Any], str]] = {
    "compute-environment": compute_environment,
    "job-queue": job_queue,
    "job-definition": job_definition,
    "scheduling-policy": scheduling_policy,
    "job": job,
}


def tags(batch: Any, arn: str) -> dict[str, str]:
    return batch.list_tags_for_resource(resourceArn=arn)["tags"]


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=message)


@pytest.mark.parametrize("kind", TAGGABLE)
def test_tag_resource_adds_tags(batch: Any, kind: str) -> None:
    arn = TAGGABLE[kind](batch)
    batch.tag_resource(resourceArn=arn, tags={"team": "a", "env": "test"})
    assert tags(batch, arn) == {"team": "a", "env": "test"}


@pytest.mark.parametrize("kind", TAGGABLE)
def test_untag_resource_removes_only_the_given_keys(batch: Any, kind: str) -> None:
    arn = TAGGABLE[kind](batch)
    batch.tag_resource(resourceArn=arn, tags={"team": "a", "env": "test"})
    batch.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert tags(batch, arn) == {"env": "test"}


@pytest.mark.parametrize("kind", TAGGABLE)
def test_untagged_resource_lists_no_tags(batch: Any, kind: str) -> None:
    assert tags(batch, TAGGABLE[kind](batch)) == {}


def test_tag_resource_overwrites_existing_values(batch: Any) -> None:
    arn = job_definition(batch)
    batch.tag_resource(resourceArn=arn, tags={"team": "a"})
    batch.tag_resource(resourceArn=arn, tags={"team": "b"})
    assert tags(batch, arn) == {"team": "b"}


def test_tags_given_at_creation_are_listed(batch: Any) -> None:
    arn = batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", tags={"team": "a"})[
        "computeEnvironmentArn"
    ]
    assert tags(batch, arn) == {"team": "a"}


def test_tags_set_later_show_in_describe(batch: Any) -> None:
    arn = job_queue(batch)
    batch.tag_resource(resourceArn=arn, tags={"team": "a"})
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["tags"] == {"team": "a"}


def test_tags_given_at_submission_are_listed_for_a_job(batch: Any) -> None:
    arn = job(batch, tags={"run": "1"})
    assert tags(batch, arn) == {"run": "1"}


def test_tags_of_one_revision_are_not_shared_with_another(batch: Any) -> None:
    first = job_definition(batch)
    second = job_definition(batch)
    batch.tag_resource(resourceArn=first, tags={"team": "a"})
    assert tags(batch, second) == {}


def test_merged_tags_beyond_50_are_refused(batch: Any) -> None:
    arn = scheduling_policy(batch)
    batch.tag_resource(resourceArn=arn, tags={f"a{i}": "v" for i in range(30)})
    with refused(batch, "A resource can have at most 50 tags, got 55"):
        batch.tag_resource(resourceArn=arn, tags={f"b{i}": "v" for i in range(25)})
    assert len(tags(batch, arn)) == 30


def test_unknown_arn_is_refused_by_name(batch: Any) -> None:
    arn = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/nope"
    with refused(batch, f"Resource {arn} does not exist"):
        tags(batch, arn)


def test_arn_of_another_region_is_refused(batch: Any) -> None:
    compute_environment(batch)
    arn = f"arn:aws:batch:eu-west-1:{ACCOUNT}:compute-environment/ce"
    with refused(batch, "does not exist"):
        batch.tag_resource(resourceArn=arn, tags={"a": "b"})


def test_malformed_arn_is_refused(batch: Any) -> None:
    with refused(batch, "Resource not-an-arn does not exist"):
        tags(batch, "not-an-arn")


def test_deregistered_job_definition_revision_can_still_be_tagged(batch: Any) -> None:
    arn = job_definition(batch)
    batch.deregister_job_definition(jobDefinition=arn)
    batch.tag_resource(resourceArn=arn, tags={"a": "b"})
    assert tags(batch, arn) == {"a": "b"}


@pytest.mark.parametrize("suffix", [":0", "#1"])
def test_child_jobs_are_refused(batch: Any, suffix: str) -> None:
    arn = job(batch, arrayProperties={"size": 2})
    with refused(batch, "not supported for child jobs"):
        batch.tag_resource(resourceArn=arn + suffix, tags={"a": "b"})


def test_extras_records_are_taggable_by_arn(batch: Any, emulator: Emulator) -> None:
    arn = f"arn:aws:batch:{REGION}:{ACCOUNT}:consumable-resource/licences"
    backend = emulator.store.backend(ACCOUNT, REGION)
    with emulator.store.lock:
        backend.extras.setdefault("consumable-resource", {})["licences"] = {"arn": arn, "tags": {"x": "1"}}
    batch.tag_resource(resourceArn=arn, tags={"team": "a"})
    batch.untag_resource(resourceArn=arn, tagKeys=["x"])
    assert tags(batch, arn) == {"team": "a"}

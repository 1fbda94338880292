"""Job definitions through boto3: revisions, describe filters and pagination, deregister, and AWS's rules."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu import Emulator

REGION, ACCOUNT = "us-east-1", "123456789012"
CONTAINER = {
    "image": "busybox",
    "command": ["echo", "Ref::word"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
}
FARGATE_CONTAINER = {
    "image": "busybox",
    "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
    "resourceRequirements": [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "2048"}],
    "networkConfiguration": {"assignPublicIp": "ENABLED"},
}


def register(batch: Any, name: str = "jd", **fields: Any) -> dict[str, Any]:
    fields.setdefault("type", "container")
    if fields["type"] == "container":
        fields.setdefault("containerProperties", CONTAINER)
    return batch.register_job_definition(jobDefinitionName=name, **fields)


def describe(batch: Any, **filters: Any) -> list[dict[str, Any]]:
    return batch.describe_job_definitions(**filters)["jobDefinitions"]


def refused(batch: Any, message: str) -> Any:
    return pytest.raises(batch.exceptions.ClientException, match=message)


def arn(name: str, revision: int) -> str:
    return f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{name}:{revision}"


# -- register and describe ----------------------------------------------------------------------------


def test_first_registration_is_revision_1(batch: Any) -> None:
    response = register(batch)
    assert response["jobDefinitionName"] == "jd"
    assert (response["revision"], response["jobDefinitionArn"]) == (1, arn("jd", 1))


def test_each_registration_adds_a_revision(batch: Any) -> None:
    register(batch)
    assert register(batch)["revision"] == 2


def test_revision_numbers_are_not_reused_after_deregistration(batch: Any) -> None:
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:1")
    assert register(batch)["revision"] == 2


def test_describe_fills_out_container_properties_as_aws_does(batch: Any) -> None:
    register(batch)
    found = describe(batch)[0]
    container = found["containerProperties"]
    assert container["image"] == "busybox"
    for key in ("volumes", "environment", "mountPoints", "ulimits"):
        assert container[key] == []
    assert container["resourceRequirements"] == CONTAINER["resourceRequirements"]
    assert found["parameters"] == {}
    assert (found["status"], found["type"]) == ("ACTIVE", "container")
    assert found["platformCapabilities"] == ["EC2"]
    assert found["containerOrchestrationType"] == "ECS"


def test_describe_echoes_optional_fields(batch: Any) -> None:
    register(
        batch,
        parameters={"word": "hi"},
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]},
        timeout={"attemptDurationSeconds": 60},
        propagateTags=True,
        tags={"team": "a"},
        schedulingPriority=5,
    )
    found = describe(batch)[0]
    assert found["parameters"] == {"word": "hi"}
    assert found["retryStrategy"] == {
        "attempts": 3,
        "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}],
    }
    assert found["timeout"] == {"attemptDurationSeconds": 60}
    assert (found["propagateTags"], found["tags"], found["schedulingPriority"]) == (True, {"team": "a"}, 5)


def test_fargate_definition_is_registered(batch: Any) -> None:
    register(batch, platformCapabilities=["FARGATE"], containerProperties=FARGATE_CONTAINER)
    found = describe(batch)[0]
    assert found["platformCapabilities"] == ["FARGATE"]
    assert found["containerProperties"]["networkConfiguration"] == {"assignPublicIp": "ENABLED"}


def test_multinode_definition_is_registered(batch: Any) -> None:
    nodes = {
        "numNodes": 3,
        "mainNode": 0,
        "nodeRangeProperties": [
            {"targetNodes": "0", "container": CONTAINER},
            {"targetNodes": "1:", "container": CONTAINER},
        ],
    }
    register(batch, type="multinode", nodeProperties=nodes)
    found = describe(batch)[0]
    assert found["type"] == "multinode"
    assert found["nodeProperties"]["numNodes"] == 3


def test_describe_by_name_lists_every_revision_newest_first(batch: Any) -> None:
    register(batch)
    register(batch)
    register(batch, "other")
    assert [d["revision"] for d in describe(batch, jobDefinitionName="jd")] == [2, 1]


def test_describe_by_status_filters(batch: Any) -> None:
    register(batch)
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:1")
    assert [d["revision"] for d in describe(batch, status="ACTIVE")] == [2]
    assert [d["revision"] for d in describe(batch, status="INACTIVE")] == [1]


def test_describe_by_list_accepts_name_revision_and_arn(batch: Any) -> None:
    register(batch)
    register(batch)
    found = describe(batch, jobDefinitions=["jd:1", arn("jd", 2), "jd:9"])
    assert [d["revision"] for d in found] == [1, 2]


def test_bare_name_in_the_list_matches_nothing(batch: Any) -> None:
    register(batch)
    assert describe(batch, jobDefinitions=["jd"]) == []


def test_list_with_max_results_is_refused(batch: Any) -> None:
    with refused(
        batch, "Error executing request, Exception : JobDefinitions and MaxResults cannot both be set"
    ):
        describe(batch, jobDefinitions=["jd:1"], maxResults=1)


def test_list_with_other_filters_is_refused(batch: Any) -> None:
    with refused(batch, "JobDefinitions cannot be used with other parameters"):
        describe(batch, jobDefinitions=["jd:1"], status="ACTIVE")


def test_paginator_walks_every_definition(batch: Any) -> None:
    for index in range(5):
        register(batch, f"jd{index}")
    first = batch.describe_job_definitions(maxResults=2)
    assert len(first["jobDefinitions"]) == 2 and "nextToken" in first
    pages = batch.get_paginator("describe_job_definitions").paginate(PaginationConfig={"PageSize": 2})
    names = [d["jobDefinitionName"] for page in pages for d in page["jobDefinitions"]]
    assert names == [f"jd{index}" for index in range(5)]


# -- deregister and lookup ----------------------------------------------------------------------------


def test_deregister_makes_the_revision_inactive(batch: Any) -> None:
    register(batch)
    batch.deregister_job_definition(jobDefinition=arn("jd", 1))
    assert describe(batch, jobDefinitionName="jd")[0]["status"] == "INACTIVE"


def test_deregister_of_a_bare_name_is_refused(batch: Any) -> None:
    register(batch)
    with refused(batch, "must be given as name:revision or as an ARN"):
        batch.deregister_job_definition(jobDefinition="jd")


def test_deregister_of_unknown_revision_is_refused(batch: Any) -> None:
    with refused(batch, "Job definition jd:4 does not exist"):
        batch.deregister_job_definition(jobDefinition="jd:4")


def test_deregister_of_malformed_reference_is_refused(batch: Any) -> None:
    with refused(batch, r"Provided name jd:latest is not supported pattern\[a-zA-Z_0-9-\]\{1,128\}"):
        batch.deregister_job_definition(jobDefinition="jd:latest")


def test_backend_finds_the_latest_active_revision_by_bare_name(batch: Any, emulator: Emulator) -> None:
    register(batch)
    register(batch)
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:3")
    backend = emulator.store.backend(ACCOUNT, REGION)
    assert backend.find_job_definition("jd").revision == 2  # type: ignore[union-attr]
    assert backend.find_job_definition("jd:3").status == "INACTIVE"  # type: ignore[union-attr]
    assert backend.find_job_definition(arn("jd", 1)).revision == 1  # type: ignore[union-attr]
    assert backend.find_job_definition("jd:7") is None
    assert backend.find_job_definition("arn:aws:batch:eu-west-1:123456789012:job-definition/jd:1") is None


# -- register rules -----------------------------------------------------------------------------------


def test_invalid_name_is_refused(batch: Any) -> None:
    with refused(batch, "Job definition name should match valid pattern"):
        register(batch, "bad.name")


def test_container_definition_needs_container_properties(batch: Any) -> None:
    with refused(batch, "Exactly one of containerProperties, ecsProperties or eksProperties"):
        batch.register_job_definition(jobDefinitionName="jd", type="container")


def test_multinode_definition_needs_node_properties(batch: Any) -> None:
    with refused(batch, "nodeProperties must be specified for a multinode job definition"):
        register(batch, type="multinode")


def test_container_image_is_required(batch: Any) -> None:
    with refused(batch, "Container properties should contain an image"):
        register(batch, containerProperties={"vcpus": 1, "memory": 128})


def test_ec2_definition_needs_vcpus(batch: Any) -> None:
    with refused(batch, r"Error executing request, Exception : vCPU is not provided\., RequestId: "):
        register(batch, containerProperties={"image": "busybox", "memory": 128})


def test_ec2_definition_needs_at_least_4_mib(batch: Any) -> None:
    with refused(batch, "Memory must be at least 4 MiB"):
        register(batch, containerProperties={"image": "busybox", "vcpus": 1, "memory": 2})


def test_network_configuration_is_refused_on_ec2(batch: Any) -> None:
    with refused(
        batch, r"Error executing request, Exception : networkConfiguration not applicable for EC2\."
    ):
        register(
            batch, containerProperties={**CONTAINER, "networkConfiguration": {"assignPublicIp": "ENABLED"}}
        )


def test_evaluate_on_exit_needs_attempts(batch: Any) -> None:
    with refused(
        batch, "Error executing request, Exception : RetryAttempts must be provided with retry strategy"
    ):
        register(batch, retryStrategy={"evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]})


def test_more_than_ten_attempts_are_refused(batch: Any) -> None:
    with refused(batch, "RetryAttempts must be between 1 and 10"):
        register(batch, retryStrategy={"attempts": 11})


def test_more_than_five_evaluate_on_exit_entries_are_refused(batch: Any) -> None:
    entries = [{"onExitCode": str(code), "action": "RETRY"} for code in range(6)]
    with refused(batch, "evaluateOnExit can have at most 5 entries"):
        register(batch, retryStrategy={"attempts": 2, "evaluateOnExit": entries})


def test_non_numeric_exit_code_pattern_is_refused(batch: Any) -> None:
    with refused(batch, "onExitCode 'abc' is not a valid pattern"):
        register(
            batch, retryStrategy={"attempts": 2, "evaluateOnExit": [{"onExitCode": "abc", "action": "EXIT"}]}
        )


def test_timeout_under_60_seconds_is_refused(batch: Any) -> None:
    with refused(batch, "attemptDurationSeconds must be at least 60 seconds"):
        register(batch, timeout={"attemptDurationSeconds": 30})


def test_unsupported_fargate_combination_is_refused(batch: Any) -> None:
    requirements = [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "8192"}]
    container = {**FARGATE_CONTAINER, "resourceRequirements": requirements}
    with refused(batch, "No Fargate configuration exists for given values: 0.25 vCPU, 8192 MiB"):
        register(batch, platformCapabilities=["FARGATE"], containerProperties=container)


def test_fargate_refuses_deprecated_vcpus(batch: Any) -> None:
    with refused(batch, r"vcpus is not applicable for Fargate\."):
        register(
            batch, platformCapabilities=["FARGATE"], containerProperties={**FARGATE_CONTAINER, "vcpus": 1}
        )


def test_fargate_needs_an_execution_role(batch: Any) -> None:
    container = {k: v for k, v in FARGATE_CONTAINER.items() if k != "executionRoleArn"}
    with refused(batch, "executionRoleArn is required for Fargate"):
        register(batch, platformCapabilities=["FARGATE"], containerProperties=container)


def test_multinode_on_fargate_is_refused(batch: Any) -> None:
    nodes = {
        "numNodes": 1,
        "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0", "container": CONTAINER}],
    }
    with refused(batch, "Multinode job definitions are not supported on Fargate"):
        register(batch, type="multinode", nodeProperties=nodes, platformCapabilities=["FARGATE"])


def test_main_node_outside_the_nodes_is_refused(batch: Any) -> None:
    nodes = {
        "numNodes": 2,
        "mainNode": 2,
        "nodeRangeProperties": [{"targetNodes": "0:1", "container": CONTAINER}],
    }
    with refused(batch, "mainNode must be less than numNodes"):
        register(batch, type="multinode", nodeProperties=nodes)


def test_node_ranges_that_miss_a_node_are_refused(batch: Any) -> None:
    nodes = {
        "numNodes": 3,
        "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0:1", "container": CONTAINER}],
    }
    with refused(batch, "node 2 is not covered"):
        register(batch, type="multinode", nodeProperties=nodes)


def test_more_than_five_node_ranges_are_refused(batch: Any) -> None:
    ranges = [{"targetNodes": str(index), "container": CONTAINER} for index in range(6)]
    with refused(batch, "at most 5 node ranges"):
        register(
            batch,
            type="multinode",
            nodeProperties={"numNodes": 6, "mainNode": 0, "nodeRangeProperties": ranges},
        )


def test_definition_larger_than_24_kib_is_refused(batch: Any) -> None:
    with refused(batch, "Job definition size must be less than 24 KiB, got 25 KiB"):
        register(batch, parameters={"big": "x" * 25 * 1000})

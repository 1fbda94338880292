"""validate(): wire params checked against botocore's input shapes (everything botocore skips, too) and
handed back with snake_case member names."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.model import ShapeResolver

from batchemu.errors import ClientException
from batchemu.protocol import spec
from batchemu.protocol.validate import ValidationFailed, validate


def check(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return validate(params, spec.operation(operation).input_shape)


def problems(operation: str, params: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as raised:
        validate(params, spec.operation(operation).input_shape)
    return raised.value.problems


SUBMIT = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d"}
ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/q"


# -- renaming ---------------------------------------------------------------------------------------
def test_top_level_members_are_renamed_to_snake_case() -> None:
    assert check("SubmitJob", SUBMIT) == {"job_name": "j", "job_queue": "q", "job_definition": "d"}


def test_vcpu_members_are_renamed_to_vcpus() -> None:
    resources = {"type": "EC2", "maxvCpus": 16, "minvCpus": 0, "desiredvCpus": 4, "subnets": ["s"]}
    params = {"computeEnvironmentName": "ce", "type": "MANAGED", "computeResources": resources}
    result = check("CreateComputeEnvironment", params)
    assert result["compute_resources"] == {
        "type": "EC2",
        "max_vcpus": 16,
        "min_vcpus": 0,
        "desired_vcpus": 4,
        "subnets": ["s"],
    }


def test_unmanaged_vcpus_is_renamed() -> None:
    result = check(
        "CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "UNMANAGED", "unmanagedvCpus": 8}
    )
    assert result["unmanaged_vcpus"] == 8


def test_members_inside_lists_are_renamed() -> None:
    overrides = {
        "resourceRequirements": [{"type": "GPU", "value": "1"}],
        "environment": [{"name": "A", "value": "1"}],
    }
    result = check("SubmitJob", {**SUBMIT, "containerOverrides": overrides})
    assert result["container_overrides"] == {
        "resource_requirements": [{"type": "GPU", "value": "1"}],
        "environment": [{"name": "A", "value": "1"}],
    }


def test_map_keys_are_left_as_given() -> None:
    parameters = {"inputFile": "a", "Output-Key": "b", "snake_case": "c"}
    result = check("SubmitJob", {**SUBMIT, "parameters": parameters, "tags": {"CostCenter": "x"}})
    assert result["parameters"] == parameters
    assert result["tags"] == {"CostCenter": "x"}


def test_validate_leaves_its_input_untouched() -> None:
    params = {**SUBMIT, "containerOverrides": {"environment": [{"name": "A", "value": "1"}]}}
    before = copy.deepcopy(params)
    check("SubmitJob", params)
    assert params == before


def test_an_operation_without_input_shape_gives_empty_params() -> None:
    assert validate({"anything": 1}, None) == {}


# -- null ---------------------------------------------------------------------------------------------
def test_null_optional_member_is_treated_as_absent() -> None:
    assert check("SubmitJob", {**SUBMIT, "arrayProperties": None, "tags": None}) == check("SubmitJob", SUBMIT)


def test_null_required_member_is_reported_missing() -> None:
    assert problems("SubmitJob", {**SUBMIT, "jobQueue": None}) == [
        'Missing required parameter in input: "jobQueue"'
    ]


def test_null_inside_a_list_is_a_type_error() -> None:
    [problem] = problems("DescribeJobs", {"jobs": ["a", None]})
    assert problem.startswith("Invalid type for parameter jobs[1]")


# -- types ---------------------------------------------------------------------------------------------
def test_bool_is_not_accepted_as_an_integer() -> None:
    [problem] = problems("CreateJobQueue", {"jobQueueName": "q", "priority": True})
    assert "priority" in problem and "an integer" in problem


def test_integer_is_not_accepted_as_a_boolean() -> None:
    [problem] = problems(
        "RegisterJobDefinition", {"jobDefinitionName": "d", "type": "container", "propagateTags": 1}
    )
    assert "propagateTags" in problem and "a boolean" in problem


def test_float_is_not_accepted_as_an_integer() -> None:
    [problem] = problems("CreateJobQueue", {"jobQueueName": "q", "priority": 1.5})
    assert "priority" in problem


def test_numeric_string_is_not_accepted_as_an_integer() -> None:
    [problem] = problems("CreateJobQueue", {"jobQueueName": "q", "priority": "1"})
    assert problem == ("Invalid type for parameter priority, value: '1', type: str, valid types: an integer")


def test_integer_is_accepted_where_a_float_is_expected() -> None:
    policy = {"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1}]}
    result = check("CreateSchedulingPolicy", {"name": "p", "fairsharePolicy": policy})
    assert result["fairshare_policy"]["share_distribution"] == [{"share_identifier": "a", "weight_factor": 1}]


def test_object_where_a_list_is_expected_is_a_type_error() -> None:
    [problem] = problems("DescribeJobs", {"jobs": {"a": 1}})
    assert "jobs" in problem and "a list" in problem


def test_params_that_are_not_an_object_are_a_type_error() -> None:
    [problem] = problems("SubmitJob", ["not", "an", "object"])
    assert problem.startswith("Invalid type for parameter input")


# -- enums, lengths, ranges, sizes -------------------------------------------------------------------
def test_enum_violation_lists_the_allowed_values() -> None:
    [problem] = problems("RegisterJobDefinition", {"jobDefinitionName": "d", "type": "docker"})
    assert problem == "Value 'docker' at type must be one of: container, multinode"


def test_enum_value_is_accepted() -> None:
    assert (
        check("RegisterJobDefinition", {"jobDefinitionName": "d", "type": "multinode"})["type"] == "multinode"
    )


@pytest.mark.parametrize(
    ("operation", "params", "path", "expected"),
    [
        ("RegisterJobDefinition", {"jobDefinitionName": "d", "type": "CONTAINER"}, ["type"], "container"),
        ("ListJobs", {"jobQueue": "q", "jobStatus": "running"}, ["job_status"], "RUNNING"),
        (
            "SubmitJob",
            {**SUBMIT, "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "retry"}]}},
            ["retry_strategy", "evaluate_on_exit", 0, "action"],
            "RETRY",
        ),
    ],
)
def test_enum_value_in_another_case_is_accepted_in_the_models_spelling(
    operation: str, params: dict[str, Any], path: list[Any], expected: str
) -> None:
    value: Any = check(operation, params)
    for step in path:
        value = value[step]
    assert value == expected


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("SubmitJob", {**SUBMIT, "tags": {}}),
        ("SubmitJob", {**SUBMIT, "parameters": {}, "dependsOn": []}),
        ("CreateJobQueue", {"jobQueueName": "q", "priority": 1, "computeEnvironmentOrder": [], "tags": {}}),
        ("CreateComputeEnvironment", {"computeEnvironmentName": "ce", "type": "UNMANAGED", "tags": {}}),
        ("RegisterJobDefinition", {"jobDefinitionName": "d", "type": "container", "tags": {}}),
        ("CreateSchedulingPolicy", {"name": "p", "tags": {}}),
    ],
)
def test_empty_optional_maps_and_lists_are_accepted(operation: str, params: dict[str, Any]) -> None:
    """Airflow and snakemake send `tags: {}` by default, and AWS accepts it (their system tests run on AWS)."""
    assert check(operation, params)


def test_string_shorter_than_min_is_reported() -> None:
    [problem] = problems("UntagResource", {"resourceArn": ARN, "tagKeys": [""]})
    assert problem == "tagKeys[0] must have at least 1 characters, got 0"


def test_string_longer_than_max_is_reported() -> None:
    [problem] = problems("UntagResource", {"resourceArn": ARN, "tagKeys": ["k" * 129]})
    assert problem == "tagKeys[0] must have at most 128 characters, got 129"


def test_string_at_max_length_is_accepted() -> None:
    assert check("UntagResource", {"resourceArn": ARN, "tagKeys": ["k" * 128]})["tag_keys"] == ["k" * 128]


def test_tag_value_longer_than_max_is_reported() -> None:
    [problem] = problems("TagResource", {"resourceArn": ARN, "tags": {"k": "v" * 257}})
    assert "256" in problem


def test_map_key_longer_than_max_is_reported() -> None:
    [problem] = problems("TagResource", {"resourceArn": ARN, "tags": {"k" * 129: "v"}})
    assert problem == "tags (key) must have at most 128 characters, got 129"


def test_list_with_too_few_items_is_reported() -> None:
    assert problems("UntagResource", {"resourceArn": ARN, "tagKeys": []}) == [
        "tagKeys must have at least 1 items, got 0"
    ]


def test_list_with_too_many_items_is_reported() -> None:
    keys = [f"k{i}" for i in range(51)]
    assert problems("UntagResource", {"resourceArn": ARN, "tagKeys": keys}) == [
        "tagKeys must have at most 50 items, got 51"
    ]


def test_map_with_too_many_entries_is_reported() -> None:
    tags = {f"k{i}": "v" for i in range(51)}
    assert problems("TagResource", {"resourceArn": ARN, "tags": tags}) == [
        "tags must have at most 50 entries, got 51"
    ]


def test_empty_required_map_below_min_is_reported() -> None:
    assert problems("TagResource", {"resourceArn": ARN, "tags": {}}) == [
        "tags must have at least 1 entries, got 0"
    ]


def test_map_with_fifty_entries_is_accepted() -> None:
    tags = {f"k{i}": "v" for i in range(50)}
    assert check("TagResource", {"resourceArn": ARN, "tags": tags})["tags"] == tags


def _timeout_range() -> tuple[int, int]:
    """The model's own range (1..360 in botocore 1.43, 1..7200 in 1.44): the test follows the model."""
    shape = spec.operation("UpdateComputeEnvironment").input_shape
    metadata = shape.members["updatePolicy"].members["jobExecutionTimeoutMinutes"].metadata
    return metadata["min"], metadata["max"]


LOW, HIGH = _timeout_range()


@pytest.mark.parametrize(("minutes", "ok"), [(LOW - 1, False), (LOW, True), (HIGH, True), (HIGH + 1, False)])
def test_integer_range_is_enforced_at_both_ends(minutes: int, ok: bool) -> None:
    params = {"computeEnvironment": "ce", "updatePolicy": {"jobExecutionTimeoutMinutes": minutes}}
    if ok:
        assert check("UpdateComputeEnvironment", params)["update_policy"] == {
            "job_execution_timeout_minutes": minutes
        }
    else:
        [problem] = problems("UpdateComputeEnvironment", params)
        assert problem.startswith("updatePolicy.jobExecutionTimeoutMinutes must be")


# -- unknown and missing members -----------------------------------------------------------------------
def test_unknown_top_level_member_is_reported() -> None:
    assert problems("SubmitJob", {**SUBMIT, "jobname": "x"}) == ['Unknown parameter in input: "jobname"']


def test_unknown_nested_member_is_reported_with_its_path() -> None:
    assert problems("SubmitJob", {**SUBMIT, "containerOverrides": {"vcpu": 2}}) == [
        'Unknown parameter in containerOverrides: "vcpu"'
    ]


def test_snake_case_member_names_are_unknown_on_the_wire() -> None:
    assert problems("SubmitJob", {**SUBMIT, "array_properties": {"size": 2}}) == [
        'Unknown parameter in input: "array_properties"'
    ]


def test_missing_nested_required_member_is_reported_with_its_path() -> None:
    retry = {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1"}]}
    assert problems("SubmitJob", {**SUBMIT, "retryStrategy": retry}) == [
        'Missing required parameter in retryStrategy.evaluateOnExit[0]: "action"'
    ]


# -- listing problems -----------------------------------------------------------------------------------
def test_every_problem_is_listed() -> None:
    found = problems("SubmitJob", {"jobName": 1, "bogus": True, "arrayProperties": {"size": "2"}})
    assert len(found) == 5  # jobName type, bogus unknown, size type, jobQueue and jobDefinition missing
    assert any("jobName" in p for p in found) and any('"bogus"' in p for p in found)
    assert any("arrayProperties.size" in p for p in found)
    assert any('"jobQueue"' in p for p in found) and any('"jobDefinition"' in p for p in found)


def test_the_message_joins_the_problems() -> None:
    with pytest.raises(ValidationFailed) as raised:
        check("SubmitJob", {"jobName": "j"})
    assert raised.value.message == (
        'Parameter validation failed: Missing required parameter in input: "jobQueue"; '
        'Missing required parameter in input: "jobDefinition"'
    )


def test_the_message_shows_ten_problems_and_counts_the_rest() -> None:
    params = {**SUBMIT, **{f"bogus{i}": 1 for i in range(13)}}
    with pytest.raises(ValidationFailed) as raised:
        check("SubmitJob", params)
    assert len(raised.value.problems) == 13
    assert raised.value.message.endswith("(and 3 more)")
    assert raised.value.message.count("Unknown parameter") == 10


def test_validation_failure_is_a_400_client_exception() -> None:
    error = ValidationFailed(["x"])
    assert isinstance(error, ClientException)
    assert (error.status, error.code) == (400, "ClientException")


# -- nesting --------------------------------------------------------------------------------------------
def _recursive_shape() -> Any:
    resolver = ShapeResolver(
        {
            "Node": {
                "type": "structure",
                "members": {"child": {"shape": "Node"}, "label": {"shape": "Text"}},
            },
            "Text": {"type": "string"},
        }
    )
    return resolver.get_shape_by_name("Node")


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"label": "leaf"}
    for _ in range(depth):
        value = {"child": value}
    return value


def test_moderate_nesting_is_accepted() -> None:
    assert validate(_nested(10), _recursive_shape()) == _nested(10)


def test_nesting_beyond_the_limit_is_a_problem_not_a_crash() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate(_nested(5_000), _recursive_shape())
    assert [p for p in raised.value.problems if "nested too deeply" in p] == raised.value.problems
    assert len(raised.value.problems) == 1

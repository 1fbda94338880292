"""CloudFormation's PascalCase properties become Batch API requests by botocore's input shapes."""

from __future__ import annotations

import pytest

from batchemu.integrations.cloudformation_properties import PropertyError, to_request


def test_nested_members_are_renamed_by_the_shape_and_map_keys_are_kept() -> None:
    request = to_request(
        "JD",
        {
            "Type": "container",
            "Parameters": {"InputFile": "a.txt"},
            "ContainerProperties": {
                "Image": "busybox",
                "ResourceRequirements": [{"Type": "MEMORY", "Value": 512}],
                "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "g"}},
            },
            "Tags": {"Team": "data"},
            "ResourceRetentionPolicy": {"SkipDeregisterOnUpdate": True},
        },
        "RegisterJobDefinition",
        skip=("ResourceRetentionPolicy",),
    )
    assert request == {
        "type": "container",
        "parameters": {"InputFile": "a.txt"},
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [{"type": "MEMORY", "value": "512"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
        },
        "tags": {"Team": "data"},
    }


def test_scalars_are_coerced_as_cloudformation_reads_a_template() -> None:
    request = to_request(
        "CE",
        {"Type": "MANAGED", "ComputeResources": {"Type": "EC2", "MaxvCpus": "16", "BidPercentage": "50"}},
        "CreateComputeEnvironment",
    )
    assert request["computeResources"] == {"type": "EC2", "maxvCpus": 16, "bidPercentage": 50}
    assert to_request("JD", {"PropagateTags": "true"}, "RegisterJobDefinition") == {"propagateTags": True}


def test_an_order_entry_names_its_compute_environment() -> None:
    request = to_request(
        "Q",
        {"Priority": 1, "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": "arn"}]},
        "CreateJobQueue",
    )
    assert request == {"priority": 1, "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "arn"}]}


def test_an_unknown_property_is_refused_with_its_path() -> None:
    with pytest.raises(PropertyError, match=r"#/ContainerProperties: extraneous key \[Colour\]"):
        to_request("JD", {"ContainerProperties": {"Colour": "blue"}}, "RegisterJobDefinition")

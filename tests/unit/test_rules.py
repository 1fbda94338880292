"""AWS validation rules as pure functions: each test states one rule and the message it gives."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu.domain import job_definition_rules, rules
from batchemu.errors import ClientException

EC2_RESOURCES = {
    "type": "EC2",
    "min_vcpus": 0,
    "max_vcpus": 16,
    "subnets": ["subnet-1"],
    "instance_role": "ecsInstanceRole",
}
FARGATE_RESOURCES = {
    "type": "FARGATE",
    "max_vcpus": 16,
    "subnets": ["subnet-1"],
    "security_group_ids": ["sg-1"],
}
EC2_CONTAINER = {
    "image": "busybox",
    "resource_requirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
}
FARGATE_CONTAINER = {
    "image": "busybox",
    "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
    "resource_requirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
}


def refused(message: str) -> Any:
    return pytest.raises(ClientException, match=message)


def managed(**resources: Any) -> dict[str, Any]:
    return {"compute_environment_name": "ce", "type": "MANAGED", "compute_resources": resources}


def job_definition(**fields: Any) -> dict[str, Any]:
    return {
        "job_definition_name": "jd",
        "type": "container",
        "container_properties": dict(EC2_CONTAINER),
        **fields,
    }


# -- names, references, tags --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "A-b_9", "9lives", "x" * 128])
def test_valid_names_pass(name: str) -> None:
    rules.check_name(name, "Job queue")


@pytest.mark.parametrize("name", ["", "-lead", "_lead", "has space", "dot.ted", "x" * 129])
def test_invalid_names_are_refused_with_the_kind_in_the_message(name: str) -> None:
    with refused("Error executing request, Exception : Job queue name should match valid pattern"):
        rules.check_name(name, "Job queue")


def test_bare_name_reference_has_no_revision() -> None:
    assert rules.split_job_definition_reference("sleep") == rules.JobDefinitionReference("sleep", None)


def test_name_and_revision_reference_is_split() -> None:
    assert rules.split_job_definition_reference("sleep:12") == rules.JobDefinitionReference("sleep", 12)


def test_arn_reference_keeps_region_and_account() -> None:
    parsed = rules.split_job_definition_reference(
        "arn:aws:batch:eu-west-1:123456789012:job-definition/sleep:3"
    )
    assert parsed == rules.JobDefinitionReference("sleep", 3, "eu-west-1", "123456789012")


@pytest.mark.parametrize("reference", ["sleep:latest", "a b", "sleep:1:2", "arn:aws:batch:x:1:job/abc", ""])
def test_malformed_reference_is_refused_with_aws_message(reference: str) -> None:
    assert rules.split_job_definition_reference(reference) is None
    with pytest.raises(ClientException) as caught:
        rules.parse_job_definition_reference(reference)
    assert caught.value.message == f"Provided name {reference} is not supported pattern[a-zA-Z_0-9-]{{1,128}}"


def test_fifty_tags_are_allowed() -> None:
    rules.check_tags({f"k{i}": "v" for i in range(50)})


def test_more_than_fifty_tags_are_refused() -> None:
    with refused("at most 50 tags, got 51"):
        rules.check_tags({f"k{i}": "v" for i in range(51)})


def test_tag_key_longer_than_128_is_refused() -> None:
    with refused("must be 1 to 128 characters"):
        rules.check_tags({"k" * 129: "v"})


def test_tag_value_longer_than_256_is_refused() -> None:
    with refused("at most 256 characters"):
        rules.check_tags({"k": "v" * 257})


def test_quota_refuses_at_the_limit() -> None:
    rules.check_quota(49, 50, "job queues")
    with refused("at most 50 job queues"):
        rules.check_quota(50, 50, "job queues")


# -- compute environments -----------------------------------------------------------------------------


def test_managed_ec2_environment_passes() -> None:
    rules.check_new_compute_environment(managed(**EC2_RESOURCES))


def test_managed_environment_needs_compute_resources() -> None:
    with refused("computeResources must be specified for a MANAGED"):
        rules.check_new_compute_environment({"compute_environment_name": "ce", "type": "MANAGED"})


def test_unmanaged_environment_refuses_compute_resources() -> None:
    request = {"compute_environment_name": "ce", "type": "UNMANAGED", "compute_resources": EC2_RESOURCES}
    with refused("computeResources is not applicable for an UNMANAGED"):
        rules.check_new_compute_environment(request)


def test_managed_environment_refuses_unmanaged_vcpus() -> None:
    with refused("unmanagedvCpus is not applicable for a MANAGED"):
        rules.check_new_compute_environment({**managed(**EC2_RESOURCES), "unmanaged_vcpus": 4})


def test_ec2_needs_instance_role() -> None:
    resources = {k: v for k, v in EC2_RESOURCES.items() if k != "instance_role"}
    with refused("Error executing request, Exception : Instance role is required."):
        rules.check_compute_resources(resources)


def test_ec2_needs_min_vcpus() -> None:
    resources = {k: v for k, v in EC2_RESOURCES.items() if k != "min_vcpus"}
    with refused("Error executing request, Exception : Resource minvCpus is required."):
        rules.check_compute_resources(resources)


def test_spot_best_fit_needs_spot_fleet_role() -> None:
    with pytest.raises(ClientException) as caught:
        rules.check_compute_resources({**EC2_RESOURCES, "type": "SPOT"})
    assert caught.value.message == "ComputeResources.spotIamFleetRole cannot not be null or empty"


def test_spot_capacity_optimized_needs_no_spot_fleet_role() -> None:
    rules.check_compute_resources(
        {**EC2_RESOURCES, "type": "SPOT", "allocation_strategy": "SPOT_CAPACITY_OPTIMIZED"}
    )


@pytest.mark.parametrize(
    ("field", "value", "wire"),
    [
        ("desired_vcpus", 0, "desiredvCpus"),
        ("min_vcpus", 0, "minvCpus"),
        ("instance_role", "role", "instanceRole"),
        ("instance_types", ["m5"], "instanceTypes"),
        ("tags", {"a": "b"}, "tags"),
        ("allocation_strategy", "BEST_FIT", "allocationStrategy"),
        ("spot_iam_fleet_role", "role", "spotIamFleetRole"),
    ],
)
def test_fargate_refuses_ec2_only_fields(field: str, value: Any, wire: str) -> None:
    with refused(f"Error executing request, Exception : {wire} is not applicable for Fargate."):
        rules.check_compute_resources({**FARGATE_RESOURCES, field: value})


def test_fargate_needs_a_security_group() -> None:
    with refused("At least one security group"):
        rules.check_compute_resources({**FARGATE_RESOURCES, "security_group_ids": []})


def test_more_than_16_subnets_are_refused() -> None:
    with refused("Between 1 and 16 subnets"):
        rules.check_compute_resources({**FARGATE_RESOURCES, "subnets": [f"s{i}" for i in range(17)]})


def test_min_vcpus_above_max_is_refused() -> None:
    with refused("minvCpus must be less than or equal to maxvCpus"):
        rules.check_vcpu_range(8, None, 4)


def test_desired_vcpus_below_min_is_refused() -> None:
    with refused("desiredvCpus must be greater than or equal to minvCpus"):
        rules.check_vcpu_range(4, 2, 8)


def test_desired_vcpus_above_max_is_refused() -> None:
    with refused("desiredvCpus must be less than or equal to maxvCpus"):
        rules.check_vcpu_range(0, 9, 8)


def test_negative_vcpus_are_refused() -> None:
    with refused("maxvCpus must be greater than or equal to 0"):
        rules.check_vcpu_range(None, None, -1)


def test_update_with_empty_compute_resources_is_refused() -> None:
    with refused("At least one compute-resources attribute must be specified"):
        rules.check_compute_environment_update("MANAGED", EC2_RESOURCES, {"compute_resources": {}})


def test_update_cannot_decrease_desired_vcpus() -> None:
    current = {**EC2_RESOURCES, "desired_vcpus": 4}
    with refused("desiredvCpus cannot be decreased"):
        rules.check_compute_environment_update(
            "MANAGED", current, {"compute_resources": {"desired_vcpus": 2}}
        )


def test_update_of_best_fit_environment_refuses_infrastructure_changes() -> None:
    with refused("instanceTypes cannot be updated when allocationStrategy is BEST_FIT"):
        rules.check_compute_environment_update(
            "MANAGED", EC2_RESOURCES, {"compute_resources": {"instance_types": ["c5"]}}
        )


def test_update_of_best_fit_progressive_environment_allows_infrastructure_changes() -> None:
    current = {**EC2_RESOURCES, "allocation_strategy": "BEST_FIT_PROGRESSIVE"}
    rules.check_compute_environment_update(
        "MANAGED", current, {"compute_resources": {"instance_types": ["c5"]}}
    )


def test_update_of_fargate_environment_allows_only_network_and_max_vcpus() -> None:
    rules.check_compute_environment_update(
        "MANAGED", FARGATE_RESOURCES, {"compute_resources": {"subnets": ["s2"], "max_vcpus": 4}}
    )
    with refused("minvCpus is not applicable for Fargate."):
        rules.check_compute_environment_update(
            "MANAGED", FARGATE_RESOURCES, {"compute_resources": {"min_vcpus": 1}}
        )


def test_update_cannot_switch_between_ec2_and_fargate() -> None:
    with refused("cannot be changed from EC2 to FARGATE"):
        rules.check_compute_environment_update(
            "MANAGED", EC2_RESOURCES, {"compute_resources": {"type": "FARGATE"}}
        )


def test_update_of_unmanaged_environment_refuses_compute_resources() -> None:
    with refused("computeResources is not applicable for an UNMANAGED"):
        rules.check_compute_environment_update("UNMANAGED", None, {"compute_resources": {"max_vcpus": 1}})


# -- job queues ---------------------------------------------------------------------------------------


def test_priority_must_be_between_0_and_1000() -> None:
    rules.check_priority(0)
    rules.check_priority(1000)
    with refused("priority must be between 0 and 1000"):
        rules.check_priority(1001)


def test_queue_needs_compute_environment_order() -> None:
    with refused("computeEnvironmentOrder must be specified"):
        rules.check_new_job_queue({"job_queue_name": "q", "priority": 1})


def test_queue_takes_at_most_three_compute_environments() -> None:
    entries = [{"order": i, "compute_environment": f"ce{i}"} for i in range(4)]
    with refused("at most 3 compute environments"):
        rules.check_compute_environment_order(entries)


def test_order_values_must_be_unique() -> None:
    entries = [{"order": 1, "compute_environment": "a"}, {"order": 1, "compute_environment": "b"}]
    with refused("must be unique"):
        rules.check_compute_environment_order(entries)


def test_a_compute_environment_appears_once() -> None:
    with refused("only once"):
        rules.check_distinct_compute_environments(["arn:a", "arn:a"])


def test_queue_cannot_mix_ec2_and_fargate() -> None:
    rules.check_single_platform(["EC2", "EC2"])
    with refused("cannot mix EC2"):
        rules.check_single_platform(["EC2", "FARGATE"])


def test_queue_type_must_match_the_platform() -> None:
    rules.check_queue_type_matches("ECS_FARGATE", ["FARGATE"])
    rules.check_queue_type_matches("EKS", ["EC2"])
    with refused("A job queue of type ECS takes only EC2 compute environments"):
        rules.check_queue_type_matches("ECS", ["FARGATE"])


def test_fifo_queue_cannot_acquire_a_scheduling_policy() -> None:
    with refused("cannot be added to a job queue created without one"):
        rules.check_scheduling_policy_change(None, "arn:policy")


def test_scheduling_policy_cannot_be_removed() -> None:
    with refused("cannot be removed"):
        rules.check_scheduling_policy_change("arn:policy", "")


@pytest.mark.parametrize("seconds", [599, 86401])
def test_time_limit_action_max_time_must_be_600_to_86400(seconds: int) -> None:
    action = {"reason": "r", "state": "RUNNABLE", "max_time_seconds": seconds, "action": "CANCEL"}
    with refused("between 600 and 86400"):
        rules.check_job_state_time_limit_actions([action], "ECS")


def test_time_limit_action_must_cancel_on_ecs_queues() -> None:
    action = {"reason": "r", "state": "RUNNABLE", "max_time_seconds": 600, "action": "TERMINATE"}
    with refused("action must be CANCEL"):
        rules.check_job_state_time_limit_actions([action], "ECS")


# -- scheduling policies ------------------------------------------------------------------------------


def test_share_decay_seconds_must_be_at_most_a_week() -> None:
    with refused("shareDecaySeconds must be between 0 and 604800"):
        rules.check_fairshare_policy({"share_decay_seconds": 604801})


def test_compute_reservation_must_be_at_most_99() -> None:
    with refused("computeReservation must be between 0 and 99"):
        rules.check_fairshare_policy({"compute_reservation": 100})


@pytest.mark.parametrize("weight", [0.00001, 1000.0])
def test_weight_factor_must_be_in_range(weight: float) -> None:
    share = {"share_identifier": "a", "weight_factor": weight}
    with refused("weightFactor must be between 0.0001 and 999.9999"):
        rules.check_fairshare_policy({"share_distribution": [share]})


@pytest.mark.parametrize("identifier", ["has-dash", "mid*dle", "a" * 256, ""])
def test_share_identifier_must_be_alphanumeric_with_optional_trailing_star(identifier: str) -> None:
    with refused("must be up to 255 letters and digits"):
        rules.check_fairshare_policy({"share_distribution": [{"share_identifier": identifier}]})


@pytest.mark.parametrize(("first", "second"), [("UserA*", "UserA1"), ("User*", "UserA*"), ("B", "B")])
def test_overlapping_share_identifiers_are_refused(first: str, second: str) -> None:
    shares = [{"share_identifier": first}, {"share_identifier": second}]
    with refused("overlap"):
        rules.check_fairshare_policy({"share_distribution": shares})


def test_distinct_prefix_entries_pass() -> None:
    shares = [{"share_identifier": "UserA*"}, {"share_identifier": "UserB*"}, {"share_identifier": "Other"}]
    rules.check_fairshare_policy({"share_distribution": shares})


# -- job definitions ----------------------------------------------------------------------------------


def test_container_definition_passes() -> None:
    job_definition_rules.check_job_definition(job_definition())


def test_container_definition_needs_exactly_one_body() -> None:
    with refused("Exactly one of containerProperties, ecsProperties or eksProperties"):
        job_definition_rules.check_job_definition(job_definition(ecs_properties={"task_properties": []}))


def test_multinode_definition_needs_node_properties() -> None:
    with refused("nodeProperties must be specified"):
        job_definition_rules.check_job_definition({"job_definition_name": "jd", "type": "multinode"})


def test_evaluate_on_exit_needs_attempts() -> None:
    with refused("Error executing request, Exception : RetryAttempts must be provided with retry strategy"):
        job_definition_rules.check_retry_strategy(
            {"evaluate_on_exit": [{"action": "EXIT", "on_exit_code": "1"}]}
        )


@pytest.mark.parametrize("attempts", [0, 11])
def test_retry_attempts_must_be_1_to_10(attempts: int) -> None:
    with refused("RetryAttempts must be between 1 and 10"):
        job_definition_rules.check_retry_strategy({"attempts": attempts})


def test_evaluate_on_exit_takes_at_most_five_entries() -> None:
    entries = [{"action": "RETRY", "on_exit_code": str(i)} for i in range(6)]
    with refused("at most 5 entries"):
        job_definition_rules.check_retry_strategy({"attempts": 2, "evaluate_on_exit": entries})


@pytest.mark.parametrize(
    ("key", "pattern"),
    [("on_exit_code", "1a"), ("on_exit_code", "*1"), ("on_reason", "bad-char"), ("on_reason", "x" * 513)],
)
def test_evaluate_on_exit_patterns_are_checked(key: str, pattern: str) -> None:
    with refused("is not a valid pattern"):
        job_definition_rules.check_retry_strategy(
            {"attempts": 2, "evaluate_on_exit": [{"action": "EXIT", key: pattern}]}
        )


def test_evaluate_on_exit_accepts_prefix_patterns() -> None:
    entries = [
        {"action": "RETRY", "on_status_reason": "Host EC2*"},
        {"action": "EXIT", "on_exit_code": "13*"},
    ]
    job_definition_rules.check_retry_strategy({"attempts": 3, "evaluate_on_exit": entries})


def test_timeout_must_be_at_least_60_seconds() -> None:
    job_definition_rules.check_timeout({"attempt_duration_seconds": 60})
    with refused("at least 60 seconds"):
        job_definition_rules.check_timeout({"attempt_duration_seconds": 59})


def test_container_needs_an_image() -> None:
    with refused("should contain an image"):
        job_definition_rules.check_container_properties({"vcpus": 1, "memory": 4}, fargate=False)


def test_ec2_container_needs_vcpus() -> None:
    with refused("vCPU is not provided."):
        job_definition_rules.check_container_properties({"image": "x", "memory": 4}, fargate=False)


def test_ec2_container_accepts_the_deprecated_vcpus_and_memory() -> None:
    job_definition_rules.check_container_properties({"image": "x", "vcpus": 1, "memory": 4}, fargate=False)


def test_ec2_container_needs_at_least_4_mib() -> None:
    with refused("Memory must be at least 4 MiB."):
        job_definition_rules.check_container_properties(
            {"image": "x", "vcpus": 1, "memory": 3}, fargate=False
        )


def test_ec2_vcpu_requirement_must_be_a_whole_number() -> None:
    container = {"image": "x", "resource_requirements": [{"type": "VCPU", "value": "1.0"}]}
    with refused(
        "Value 1.0 for type VCPU in resourceRequirement is not valid. Please provide a numeric value."
    ):
        job_definition_rules.check_container_properties(container, fargate=False)


def test_network_configuration_is_refused_on_ec2() -> None:
    with refused("networkConfiguration not applicable for EC2."):
        job_definition_rules.check_container_properties(
            {**EC2_CONTAINER, "network_configuration": {}}, fargate=False
        )


def test_container_user_must_match_aws_regex() -> None:
    with refused("User 'Root User' does not match regex"):
        job_definition_rules.check_container_properties({**EC2_CONTAINER, "user": "Root User"}, fargate=False)


def test_fargate_container_passes() -> None:
    job_definition_rules.check_container_properties(FARGATE_CONTAINER, fargate=True)


@pytest.mark.parametrize(
    ("vcpu", "memory"), [("0.25", "512"), ("0.5", "4096"), ("4", "30720"), ("8", "20480"), ("16", "122880")]
)
def test_allowed_fargate_combinations_pass(vcpu: str, memory: str) -> None:
    requirements = [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]
    job_definition_rules.check_container_properties(
        {**FARGATE_CONTAINER, "resource_requirements": requirements}, fargate=True
    )


@pytest.mark.parametrize(
    ("vcpu", "memory"), [("0.25", "4096"), ("8", "18432"), ("3", "8192"), ("one", "512")]
)
def test_other_fargate_combinations_are_refused(vcpu: str, memory: str) -> None:
    requirements = [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]
    with refused("No Fargate configuration exists for given values"):
        job_definition_rules.check_container_properties(
            {**FARGATE_CONTAINER, "resource_requirements": requirements}, fargate=True
        )


@pytest.mark.parametrize(
    ("field", "value", "wire"),
    [("vcpus", 1, "vcpus"), ("instance_type", "m5", "instanceType"), ("privileged", True, "privileged")],
)
def test_fargate_refuses_ec2_only_container_fields(field: str, value: Any, wire: str) -> None:
    with refused(f"{wire} is not applicable for Fargate."):
        job_definition_rules.check_container_properties({**FARGATE_CONTAINER, field: value}, fargate=True)


def test_fargate_needs_an_execution_role() -> None:
    container = {k: v for k, v in FARGATE_CONTAINER.items() if k != "execution_role_arn"}
    with refused("executionRoleArn is required for Fargate."):
        job_definition_rules.check_container_properties(container, fargate=True)


def test_fargate_refuses_gpus() -> None:
    requirements = [*FARGATE_CONTAINER["resource_requirements"], {"type": "GPU", "value": "1"}]  # type: ignore[misc]
    with refused("GPU"):
        job_definition_rules.check_container_properties(
            {**FARGATE_CONTAINER, "resource_requirements": requirements}, fargate=True
        )


def test_fargate_allows_only_awslogs_and_splunk() -> None:
    with refused("Log driver syslog is not supported for Fargate"):
        job_definition_rules.check_container_properties(
            {**FARGATE_CONTAINER, "log_configuration": {"log_driver": "syslog"}}, fargate=True
        )


def test_job_definition_larger_than_24_kib_is_refused() -> None:
    with refused("Job definition size must be less than 24 KiB"):
        job_definition_rules.check_job_definition(job_definition(parameters={"big": "x" * 25000}))


def test_multinode_on_fargate_is_refused() -> None:
    nodes = {
        "num_nodes": 1,
        "main_node": 0,
        "node_range_properties": [{"target_nodes": "0", "container": EC2_CONTAINER}],
    }
    request = {
        "job_definition_name": "jd",
        "type": "multinode",
        "node_properties": nodes,
        "platform_capabilities": ["FARGATE"],
    }
    with refused("not supported on Fargate"):
        job_definition_rules.check_job_definition(request)


def node_properties(num_nodes: int, main_node: int, *targets: str) -> dict[str, Any]:
    ranges = [{"target_nodes": target, "container": EC2_CONTAINER} for target in targets]
    return {"num_nodes": num_nodes, "main_node": main_node, "node_range_properties": ranges}


def test_node_ranges_covering_every_node_pass() -> None:
    job_definition_rules.check_node_properties(node_properties(4, 0, "0:0", "1:", ":3", "2"))


def test_main_node_must_be_below_num_nodes() -> None:
    with refused("mainNode must be less than numNodes"):
        job_definition_rules.check_node_properties(node_properties(2, 2, "0:1"))


def test_node_ranges_must_cover_every_node() -> None:
    with refused("node 2 is not covered"):
        job_definition_rules.check_node_properties(node_properties(4, 0, "0:1", "3:3"))


def test_at_most_five_node_ranges() -> None:
    with refused("at most 5 node ranges"):
        job_definition_rules.check_node_properties(node_properties(6, 0, "0", "1", "2", "3", "4", "5"))


@pytest.mark.parametrize("target", ["0-3", "3:1", "0:9", "a:b"])
def test_malformed_target_nodes_are_refused(target: str) -> None:
    with refused(f"targetNodes {target} is not a valid node range"):
        job_definition_rules.parse_target_nodes(target, 4)


@pytest.mark.parametrize(
    ("vcpus", "memory"), [(0.25, 512), (1.0, 2048), (4.0, 30720), (8.0, 61440), (16.0, 122880)]
)
def test_fargate_need_within_the_combinations_passes(vcpus: float, memory: int) -> None:
    job_definition_rules.check_fargate_need(vcpus, memory)


@pytest.mark.parametrize(
    ("vcpus", "memory", "shown"),
    [
        (1.0, 4000, "1.00 vCPU, 4000 MiB"),
        (0.25, 4096, "0.25 vCPU, 4096 MiB"),
        (3.0, 8192, "3.00 vCPU, 8192 MiB"),
    ],
)
def test_fargate_need_outside_the_combinations_is_refused(vcpus: float, memory: int, shown: str) -> None:
    with pytest.raises(ClientException) as raised:
        job_definition_rules.check_fargate_need(vcpus, memory)
    assert raised.value.message == f"Fargate resource requirements ({shown}) not valid."


@pytest.mark.parametrize("key", ["vcpus", "memory"])
def test_fargate_overrides_refuse_the_deprecated_keys(key: str) -> None:
    with pytest.raises(ClientException) as raised:
        job_definition_rules.check_fargate_overrides({key: 1})
    assert raised.value.message == f"{key} is not applicable for Fargate. Use resource requirements instead."


@pytest.mark.parametrize(("kind", "value"), [("VCPU", "one"), ("VCPU", "nan"), ("MEMORY", "2048.5")])
def test_fargate_overrides_need_numbers(kind: str, value: str) -> None:
    with refused(f"Value {value} for type {kind} in resourceRequirement is not valid"):
        job_definition_rules.check_fargate_overrides(
            {"resource_requirements": [{"type": kind, "value": value}]}
        )


def test_fargate_overrides_with_numbers_pass() -> None:
    requirements = [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"}]
    job_definition_rules.check_fargate_overrides({"resource_requirements": requirements, "command": ["x"]})

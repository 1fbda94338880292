"""AWS Batch validation rules as pure functions over snake_case request dicts: names, references, tags,
quotas and the per-resource rules. Each raises ClientException, with AWS's own text where it is known
(messages marked "chosen" are ours: AWS's text is unconfirmed). Imports errors only."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batchemu.errors import ClientException, invalid_request

Spec = dict[str, Any]

MAX_COMPUTE_ENVIRONMENTS = 50
MAX_JOB_QUEUES = 50
MAX_TAGS = 50
MAX_COMPUTE_ENVIRONMENTS_PER_QUEUE = 3
MAX_JOB_DEFINITION_BYTES = 24 * 1024
MAX_NODE_RANGES = 5
MAX_NODES = 1000

_NAME = re.compile(r"^[0-9a-zA-Z][0-9a-zA-Z_\-]{0,127}$")
_REFERENCE = re.compile(r"^([a-zA-Z0-9_-]{1,128})(?::(\d+))?$")
_REFERENCE_ARN = re.compile(
    r"^arn:aws[a-z-]*:batch:([a-z0-9-]+):(\d{12}):job-definition/([a-zA-Z0-9_-]{1,128})(?::(\d+))?$"
)
# Wire names of the members whose snake_case name does not camelCase back by the usual rule.
_WIRE_NAMES = {"min_vcpus": "minvCpus", "max_vcpus": "maxvCpus", "desired_vcpus": "desiredvCpus"}


def wire_name(python_name: str) -> str:
    """The API member name for a snake_case name, for error messages that quote it."""
    if python_name in _WIRE_NAMES:
        return _WIRE_NAMES[python_name]
    head, *rest = python_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# -- names, references, tags, quotas ----------------------------------------------------------------


def check_name(name: str, kind: str) -> None:
    """Resource names: 1-128 letters, digits, '-' and '_', starting with a letter or digit.
    The message mirrors AWS's for job names ("Job name should match valid pattern")."""
    if not _NAME.match(name):
        raise invalid_request(f"{kind} name should match valid pattern")


@dataclass(frozen=True)
class JobDefinitionReference:
    name: str
    revision: int | None
    region: str | None = None  # set when the reference was an ARN
    account: str | None = None


def split_job_definition_reference(value: str) -> JobDefinitionReference | None:
    """`name`, `name:revision` or a job-definition ARN (revision optional); None when malformed."""
    match = _REFERENCE.match(value)
    if match:
        revision = match.group(2)
        return JobDefinitionReference(match.group(1), int(revision) if revision else None)
    match = _REFERENCE_ARN.match(value)
    if match:
        revision = match.group(4)
        return JobDefinitionReference(
            match.group(3), int(revision) if revision else None, match.group(1), match.group(2)
        )
    return None


def parse_job_definition_reference(value: str) -> JobDefinitionReference:
    found = split_job_definition_reference(value)
    if found is None:
        raise ClientException(f"Provided name {value} is not supported pattern[a-zA-Z_0-9-]{{1,128}}")
    return found


def check_tags(tags: dict[str, str]) -> None:
    """At most 50 tags (also after TagResource merges), keys 1-128 and values up to 256 characters.
    Messages chosen."""
    if len(tags) > MAX_TAGS:
        raise invalid_request(f"A resource can have at most {MAX_TAGS} tags, got {len(tags)}")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise invalid_request(f"Tag key {key!r} must be 1 to 128 characters long")
        if len(value) > 256:
            raise invalid_request(f"The value of tag {key!r} must be at most 256 characters long")


def check_quota(current: int, limit: int, kind: str) -> None:
    """Message chosen."""
    if current >= limit:
        raise invalid_request(f"Limit exceeded: at most {limit} {kind} can exist in a region")


# -- compute environments -----------------------------------------------------------------------------

FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
_NOT_FOR_FARGATE = (
    "allocation_strategy",
    "bid_percentage",
    "desired_vcpus",
    "image_id",
    "instance_types",
    "ec2_configuration",
    "ec2_key_pair",
    "instance_role",
    "launch_template",
    "min_vcpus",
    "placement_group",
    "spot_iam_fleet_role",
    "tags",
)
_FARGATE_UPDATABLE = ("max_vcpus", "subnets", "security_group_ids", "type")
_SCALING = ("min_vcpus", "max_vcpus", "desired_vcpus")


def platform_of(compute_resources_type: str) -> str:
    return "FARGATE" if compute_resources_type in FARGATE_TYPES else "EC2"


def check_new_compute_environment(request: Spec) -> None:
    check_name(request["compute_environment_name"], "Compute environment")
    resources = request.get("compute_resources")
    if request["type"] == "MANAGED":
        if resources is None:
            raise invalid_request("computeResources must be specified for a MANAGED compute environment")
        if request.get("unmanaged_vcpus") is not None:
            raise invalid_request("unmanagedvCpus is not applicable for a MANAGED compute environment")
        check_compute_resources(resources)
    elif resources is not None:
        raise invalid_request("computeResources is not applicable for an UNMANAGED compute environment")
    _check_non_negative(request.get("unmanaged_vcpus"), "unmanagedvCpus")
    check_tags(request.get("tags") or {})


def check_compute_resources(resources: Spec) -> None:
    """EC2/SPOT need instanceRole and minvCpus (AWS's messages); Fargate refuses the EC2-only fields."""
    if resources["type"] in FARGATE_TYPES:
        for key in _NOT_FOR_FARGATE:
            if resources.get(key) is not None:
                raise invalid_request(f"{wire_name(key)} is not applicable for Fargate.")
        if not resources.get("security_group_ids"):
            raise invalid_request("At least one security group is required for Fargate.")
    else:
        if not resources.get("instance_role"):
            raise invalid_request("Instance role is required.")
        if resources.get("min_vcpus") is None:
            raise invalid_request("Resource minvCpus is required.")
        strategy = resources.get("allocation_strategy") or "BEST_FIT"
        if (
            resources["type"] == "SPOT"
            and strategy == "BEST_FIT"
            and not resources.get("spot_iam_fleet_role")
        ):
            raise ClientException("ComputeResources.spotIamFleetRole cannot not be null or empty")
    _check_networking(resources)
    check_vcpu_range(resources.get("min_vcpus"), resources.get("desired_vcpus"), resources["max_vcpus"])


def _check_networking(resources: Spec) -> None:
    subnets = resources.get("subnets")
    if subnets is not None and not 1 <= len(subnets) <= 16:
        raise invalid_request("Between 1 and 16 subnets must be specified")
    if len(resources.get("security_group_ids") or []) > 5:
        raise invalid_request("At most 5 security groups can be specified")


def _check_non_negative(value: int | None, name: str) -> None:
    if value is not None and value < 0:
        raise invalid_request(f"{name} must be greater than or equal to 0")


def check_vcpu_range(min_vcpus: int | None, desired_vcpus: int | None, max_vcpus: int | None) -> None:
    """minvCpus <= desiredvCpus <= maxvCpus (the ordering check is UNCONFIRMED; messages chosen)."""
    for value, name in ((min_vcpus, "minvCpus"), (desired_vcpus, "desiredvCpus"), (max_vcpus, "maxvCpus")):
        _check_non_negative(value, name)
    if min_vcpus is not None and max_vcpus is not None and min_vcpus > max_vcpus:
        raise invalid_request("minvCpus must be less than or equal to maxvCpus")
    if desired_vcpus is not None:
        if min_vcpus is not None and desired_vcpus < min_vcpus:
            raise invalid_request("desiredvCpus must be greater than or equal to minvCpus")
        if max_vcpus is not None and desired_vcpus > max_vcpus:
            raise invalid_request("desiredvCpus must be less than or equal to maxvCpus")


def check_compute_environment_update(environment_type: str, current: Spec | None, request: Spec) -> None:
    """`current` is the stored computeResources (None for UNMANAGED)."""
    if request.get("unmanaged_vcpus") is not None and environment_type == "MANAGED":
        raise invalid_request("unmanagedvCpus is not applicable for a MANAGED compute environment")
    _check_non_negative(request.get("unmanaged_vcpus"), "unmanagedvCpus")
    changes = request.get("compute_resources")
    if changes is None:
        return
    if current is None:
        raise invalid_request("computeResources is not applicable for an UNMANAGED compute environment")
    if not changes:  # text from a terraform PR title; UNCONFIRMED
        raise invalid_request("At least one compute-resources attribute must be specified")
    kind = current["type"]
    new_kind = changes.get("type", kind)
    if platform_of(new_kind) != platform_of(kind):
        raise invalid_request(f"Compute resources type cannot be changed from {kind} to {new_kind}")
    if kind in FARGATE_TYPES:
        for key in changes:
            if key not in _FARGATE_UPDATABLE:
                raise invalid_request(f"{wire_name(key)} is not applicable for Fargate.")
    elif (current.get("allocation_strategy") or "BEST_FIT") == "BEST_FIT":
        for key in changes:
            if key not in _SCALING:
                raise invalid_request(
                    f"{wire_name(key)} cannot be updated when allocationStrategy is BEST_FIT; "
                    "only minvCpus, maxvCpus and desiredvCpus can be"
                )
    _check_networking(changes)
    desired = changes.get("desired_vcpus")
    if desired is not None and desired < (current.get("desired_vcpus") or 0):
        raise invalid_request("desiredvCpus cannot be decreased")
    merged = {**current, **changes}
    check_vcpu_range(merged.get("min_vcpus"), desired, merged.get("max_vcpus"))


# -- job queues ---------------------------------------------------------------------------------------


def check_new_job_queue(request: Spec) -> None:
    check_name(request["job_queue_name"], "Job queue")
    check_priority(request["priority"])
    if not request.get("compute_environment_order") and not request.get("service_environment_order"):
        raise invalid_request("computeEnvironmentOrder must be specified")
    check_tags(request.get("tags") or {})


def check_priority(priority: int) -> None:
    if not 0 <= priority <= 1000:
        raise invalid_request("priority must be between 0 and 1000")


def check_compute_environment_order(entries: list[Spec]) -> None:
    """At most 3 compute environments, each once, with distinct order values (messages chosen)."""
    if len(entries) > MAX_COMPUTE_ENVIRONMENTS_PER_QUEUE:
        raise invalid_request(
            f"A job queue can have at most {MAX_COMPUTE_ENVIRONMENTS_PER_QUEUE} compute environments"
        )
    orders = [entry["order"] for entry in entries]
    if len(set(orders)) != len(orders):
        raise invalid_request(
            "The order of each compute environment in computeEnvironmentOrder must be unique"
        )


def check_distinct_compute_environments(arns: list[str]) -> None:
    if len(set(arns)) != len(arns):
        raise invalid_request("A compute environment can appear only once in computeEnvironmentOrder")


def check_single_platform(platforms: Iterable[str]) -> None:
    if len(set(platforms)) > 1:
        raise invalid_request(
            "A job queue cannot mix EC2 (EC2, SPOT) and Fargate (FARGATE, FARGATE_SPOT) compute environments"
        )


def check_queue_type_matches(job_queue_type: str | None, platforms: list[str]) -> None:
    """An ECS queue takes EC2 environments and an ECS_FARGATE queue Fargate ones (message chosen)."""
    expected = {"ECS": "EC2", "ECS_FARGATE": "FARGATE"}.get(job_queue_type or "")
    if expected is not None and any(platform != expected for platform in platforms):
        raise invalid_request(
            f"A job queue of type {job_queue_type} takes only {expected} compute environments"
        )


def check_scheduling_policy_change(current_arn: str | None, new_arn: str) -> None:
    """A FIFO queue cannot acquire a policy, and a fair-share queue cannot lose its policy."""
    if current_arn is None:
        raise invalid_request("A scheduling policy cannot be added to a job queue created without one")
    if not new_arn:
        raise invalid_request("The scheduling policy of a fair-share job queue cannot be removed")


def check_job_state_time_limit_actions(actions: list[Spec], job_queue_type: str | None) -> None:
    action_allowed = "TERMINATE" if job_queue_type == "SAGEMAKER_TRAINING" else "CANCEL"
    for entry in actions:
        if not 600 <= entry["max_time_seconds"] <= 86400:
            raise invalid_request("jobStateTimeLimitActions maxTimeSeconds must be between 600 and 86400")
        if entry["state"] != "RUNNABLE":
            raise invalid_request("jobStateTimeLimitActions state must be RUNNABLE")
        if entry["action"] != action_allowed:
            raise invalid_request(
                f"jobStateTimeLimitActions action must be {action_allowed} for this job queue"
            )


# -- scheduling policies ------------------------------------------------------------------------------

_SHARE_IDENTIFIER = re.compile(r"^[a-zA-Z0-9]{0,254}\*?$")


def check_fairshare_policy(policy: Spec | None) -> None:
    if policy is None:
        return
    decay = policy.get("share_decay_seconds")
    if decay is not None and not 0 <= decay <= 604800:
        raise invalid_request("shareDecaySeconds must be between 0 and 604800")
    reservation = policy.get("compute_reservation")
    if reservation is not None and not 0 <= reservation <= 99:
        raise invalid_request("computeReservation must be between 0 and 99")
    shares = policy.get("share_distribution") or []
    for share in shares:
        identifier = share["share_identifier"]
        if not identifier or not _SHARE_IDENTIFIER.match(identifier):
            raise invalid_request(
                f"shareIdentifier {identifier} must be up to 255 letters and digits, optionally ending in *"
            )
        weight = share.get("weight_factor")
        if weight is not None and not 0.0001 <= weight <= 999.9999:
            raise invalid_request("weightFactor must be between 0.0001 and 999.9999")
    _check_shares_do_not_overlap([share["share_identifier"] for share in shares])


def _check_shares_do_not_overlap(identifiers: list[str]) -> None:
    for index, first in enumerate(identifiers):
        for second in identifiers[index + 1 :]:
            if _overlaps(first, second) or _overlaps(second, first):
                raise invalid_request(f"shareDistribution entries {first} and {second} overlap")


def _overlaps(first: str, second: str) -> bool:
    if first == second:
        return True
    return first.endswith("*") and second.rstrip("*").startswith(first[:-1])


# -- job definitions ----------------------------------------------------------------------------------

_BODIES = ("container_properties", "ecs_properties", "eks_properties")
_EXIT_CODE_PATTERN = re.compile(r"^[0-9]*\*?$")
_REASON_PATTERN = re.compile(r"^[a-zA-Z0-9.:\s]*\*?$")
_USER = re.compile(r"^([a-z0-9_][a-z0-9_-]{0,30})$")
_TARGET_NODES = re.compile(r"^(\d*):(\d*)$|^(\d+)$")
# Fargate VCPU -> allowed MEMORY values in MiB (from the ResourceRequirement doc in the model).
_FARGATE_MEMORY = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1.0: tuple(range(2048, 8192 + 1, 1024)),
    2.0: tuple(range(4096, 16384 + 1, 1024)),
    4.0: tuple(range(8192, 30720 + 1, 1024)),
    8.0: tuple(range(16384, 61440 + 1, 4096)),
    16.0: tuple(range(32768, 122880 + 1, 8192)),
}


def check_job_definition(request: Spec) -> None:
    check_name(request["job_definition_name"], "Job definition")
    check_job_definition_size(request)
    capabilities = request.get("platform_capabilities") or []
    _check_job_definition_body(request, capabilities)
    check_retry_strategy(request.get("retry_strategy"))
    check_timeout(request.get("timeout"))
    priority = request.get("scheduling_priority")
    if priority is not None and not 0 <= priority <= 9999:
        raise invalid_request("schedulingPriority must be between 0 and 9999")
    check_tags(request.get("tags") or {})
    fargate = "FARGATE" in capabilities
    if request.get("container_properties") is not None:
        check_container_properties(request["container_properties"], fargate)
    if request.get("node_properties") is not None:
        check_node_properties(request["node_properties"])


def _check_job_definition_body(request: Spec, capabilities: list[str]) -> None:
    bodies = [key for key in _BODIES if request.get(key) is not None]
    if request["type"] == "container":
        if request.get("node_properties") is not None:
            raise invalid_request("nodeProperties is only applicable for multinode job definitions")
        if len(bodies) != 1:
            raise invalid_request(
                "Exactly one of containerProperties, ecsProperties or eksProperties must be specified "
                "for a container job definition"
            )
    else:
        if request.get("node_properties") is None:
            raise invalid_request("nodeProperties must be specified for a multinode job definition")
        if bodies:
            raise invalid_request(f"{wire_name(bodies[0])} is not applicable for a multinode job definition")
        if "FARGATE" in capabilities:
            raise invalid_request("Multinode job definitions are not supported on Fargate")
    if request.get("eks_properties") is not None:
        if capabilities:
            raise invalid_request("platformCapabilities is not applicable for EKS job definitions")
        if request.get("propagate_tags") is not None:
            raise invalid_request("propagateTags is not applicable for EKS job definitions")


def check_job_definition_size(request: Spec) -> None:
    """At most 24 KiB; the size of the request as sent (camelCase keys, measured without underscores)."""
    size = len(json.dumps(_wire_keys(request), separators=(",", ":")).encode())
    if size > MAX_JOB_DEFINITION_BYTES:
        raise invalid_request(
            f"Job definition size must be less than 24 KiB, got {math.ceil(size / 1024)} KiB"
        )


def _wire_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key.replace("_", ""): _wire_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire_keys(item) for item in value]
    return value


def check_retry_strategy(strategy: Spec | None) -> None:
    if strategy is None:
        return
    attempts, entries = strategy.get("attempts"), strategy.get("evaluate_on_exit")
    if entries is not None and attempts is None:
        raise invalid_request("RetryAttempts must be provided with retry strategy")
    if attempts is not None and not 1 <= attempts <= 10:
        raise invalid_request("RetryAttempts must be between 1 and 10")
    if entries is not None and len(entries) > 5:
        raise invalid_request("evaluateOnExit can have at most 5 entries")
    for entry in entries or []:
        for key, pattern in (
            ("on_status_reason", _REASON_PATTERN),
            ("on_reason", _REASON_PATTERN),
            ("on_exit_code", _EXIT_CODE_PATTERN),
        ):
            value = entry.get(key)
            if value is not None and (len(value) > 512 or not pattern.match(value)):
                raise invalid_request(f"{wire_name(key)} {value!r} is not a valid pattern")


def check_timeout(timeout: Spec | None) -> None:
    """Message chosen: AWS's text for a timeout under 60 seconds is UNCONFIRMED."""
    seconds = (timeout or {}).get("attempt_duration_seconds")
    if seconds is not None and seconds < 60:
        raise invalid_request("timeout.attemptDurationSeconds must be at least 60 seconds")


def resource_requirements(container: Spec) -> dict[str, str]:
    found: dict[str, str] = {}
    for requirement in container.get("resource_requirements") or []:
        if requirement["type"] in found:
            raise invalid_request(
                f"Resource requirement type {requirement['type']} is specified more than once"
            )
        found[requirement["type"]] = requirement["value"]
    return found


def check_container_properties(container: Spec, fargate: bool) -> None:
    if not container.get("image"):
        raise invalid_request("Container properties should contain an image")
    user = container.get("user")
    if user is not None and not _USER.match(user):
        raise invalid_request(f"User '{user}' does not match regex")
    requirements = resource_requirements(container)
    if fargate:
        _check_fargate_container(container, requirements)
    else:
        _check_ec2_container(container, requirements)


def _check_fargate_container(container: Spec, requirements: dict[str, str]) -> None:
    for key in ("vcpus", "memory", "instance_type", "ulimits"):
        if container.get(key) not in (None, []):
            raise invalid_request(f"{wire_name(key)} is not applicable for Fargate.")
    if container.get("privileged"):
        raise invalid_request("privileged is not applicable for Fargate.")
    if "GPU" in requirements:
        raise invalid_request("GPU resource requirements are not applicable for Fargate.")
    if not container.get("execution_role_arn"):
        raise invalid_request("executionRoleArn is required for Fargate.")
    driver = (container.get("log_configuration") or {}).get("log_driver")
    if driver is not None and driver not in ("awslogs", "splunk"):
        raise invalid_request(f"Log driver {driver} is not supported for Fargate; use awslogs or splunk.")
    if "VCPU" not in requirements:
        raise invalid_request("vCPU is not provided.")
    if "MEMORY" not in requirements:
        raise invalid_request("Memory is not provided.")
    vcpu, memory = requirements["VCPU"], requirements["MEMORY"]
    try:
        allowed = _FARGATE_MEMORY.get(float(vcpu), ())
        fits = int(memory) in allowed
    except ValueError:
        fits = False
    if not fits:
        raise invalid_request(f"No Fargate configuration exists for given values: {vcpu} vCPU, {memory} MiB")


def _check_ec2_container(container: Spec, requirements: dict[str, str]) -> None:
    if container.get("network_configuration") is not None:
        raise invalid_request("networkConfiguration not applicable for EC2.")
    if container.get("fargate_platform_configuration") is not None:
        raise invalid_request("fargatePlatformConfiguration not applicable for EC2.")
    vcpus = _whole_number(requirements, "VCPU", container.get("vcpus"))
    memory = _whole_number(requirements, "MEMORY", container.get("memory"))
    if vcpus is None:
        raise invalid_request("vCPU is not provided.")
    if memory is None:
        raise invalid_request("Memory is not provided.")
    if vcpus < 1:
        raise invalid_request("vCPU must be at least 1.")
    if memory < 4:
        raise invalid_request("Memory must be at least 4 MiB.")


def _whole_number(requirements: dict[str, str], kind: str, deprecated: int | None) -> int | None:
    value = requirements.get(kind)
    if value is None:
        return deprecated
    if not value.isdigit():
        raise invalid_request(
            f"Value {value} for type {kind} in resourceRequirement is not valid. Please provide a numeric value."
        )
    return int(value)


def check_node_properties(nodes: Spec) -> None:
    count, main = nodes["num_nodes"], nodes["main_node"]
    if not 1 <= count <= MAX_NODES:
        raise invalid_request(f"numNodes must be between 1 and {MAX_NODES}")
    if not 0 <= main < count:
        raise invalid_request("mainNode must be less than numNodes")
    ranges = nodes["node_range_properties"]
    if len(ranges) > MAX_NODE_RANGES:
        raise invalid_request(f"A multinode job definition can have at most {MAX_NODE_RANGES} node ranges")
    covered: set[int] = set()
    for node_range in ranges:
        first, last = parse_target_nodes(node_range["target_nodes"], count)
        covered.update(range(first, last + 1))
        if node_range.get("container") is not None:
            check_container_properties(node_range["container"], fargate=False)
        elif node_range.get("ecs_properties") is None and node_range.get("eks_properties") is None:
            raise invalid_request(f"Node range {node_range['target_nodes']} must specify a container")
    missing = sorted(set(range(count)) - covered)
    if missing:
        raise invalid_request(
            f"nodeRangeProperties must cover every node from 0 to {count - 1}; node {missing[0]} is not covered"
        )


def parse_target_nodes(target: str, count: int) -> tuple[int, int]:
    """`a:b` (inclusive), `:b` from 0, `a:` to the last node, or a single `n`."""
    match = _TARGET_NODES.match(target)
    if not match:
        raise invalid_request(f"targetNodes {target} is not a valid node range")
    if match.group(3) is not None:
        first = last = int(match.group(3))
    else:
        first = int(match.group(1)) if match.group(1) else 0
        last = int(match.group(2)) if match.group(2) else count - 1
    if not 0 <= first <= last < count:
        raise invalid_request(f"targetNodes {target} is not a valid node range for {count} nodes")
    return first, last

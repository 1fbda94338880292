"""AWS Batch's job-definition rules (RegisterJobDefinition, and the retry and timeout rules SubmitJob
shares): bodies per type, Fargate and EC2 resources, retry strategies, timeouts and node ranges. Pure
functions over snake_case dicts; messages marked "chosen" are ours where AWS's text is unconfirmed."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from batchemu.domain import tasks
from batchemu.domain.rules import (
    MAX_JOB_DEFINITION_BYTES,
    MAX_NODE_RANGES,
    MAX_NODES,
    Spec,
    check_name,
    check_tags,
    wire_name,
)
from batchemu.errors import ClientException, invalid_request

# -- job definitions ----------------------------------------------------------------------------------

_BODIES = ("container_properties", "ecs_properties", "eks_properties")
_RANGE_BODY = {"container_properties": "container"}  # a node range's container is `container`
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
    if request.get("ecs_properties") is not None:
        tasks.check_task_properties(request["ecs_properties"])


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
        fits = fargate_fits(float(vcpu), int(memory))
    except ValueError:
        fits = False
    if not fits:
        raise invalid_request(f"No Fargate configuration exists for given values: {vcpu} vCPU, {memory} MiB")


def fargate_fits(vcpus: float, memory_mib: int) -> bool:
    """Whether Fargate offers this vCPU/memory combination."""
    return memory_mib in _FARGATE_MEMORY.get(vcpus, ())


def check_fargate_overrides(overrides: Spec) -> None:
    """SubmitJob's containerOverrides on a Fargate job definition, before they are applied: the deprecated
    vcpus/memory are refused (AWS's message for vcpus, insitro/redun PR #95; the memory one by analogy),
    and resourceRequirements values must be numbers, MEMORY a whole one (RegisterJobDefinition's message)."""
    for key in ("vcpus", "memory"):
        if overrides.get(key) is not None:
            raise ClientException(f"{key} is not applicable for Fargate. Use resource requirements instead.")
    for requirement in overrides.get("resource_requirements") or []:
        kind, value = requirement["type"], requirement["value"]
        if (kind == "VCPU" and not _is_number(value)) or (kind == "MEMORY" and not value.isdigit()):
            raise ClientException(_not_numeric(kind, value))


def check_fargate_need(vcpus: float, memory_mib: int) -> None:
    """The job's vCPUs and memory once SubmitJob's overrides are applied (each overridden type replaces the
    definition's, the other stays): AWS's message, Netflix/metaflow issue #749."""
    if not fargate_fits(vcpus, memory_mib):
        raise ClientException(
            f"Fargate resource requirements ({vcpus:.2f} vCPU, {memory_mib} MiB) not valid."
        )


def _not_numeric(kind: str, value: str) -> str:
    return (
        f"Value {value} for type {kind} in resourceRequirement is not valid. Please provide a numeric value."
    )


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


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
        raise invalid_request(_not_numeric(kind, value))
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
        bodies = [key for key in _BODIES if node_range.get(_RANGE_BODY.get(key, key)) is not None]
        if not bodies:
            raise invalid_request(f"Node range {node_range['target_nodes']} must specify a container")
        if len(bodies) > 1:  # a chosen text: AWS's is unknown
            raise invalid_request(
                f"Node range {node_range['target_nodes']} must specify only one of container, ecsProperties "
                "or eksProperties"
            )
        if node_range.get("container") is not None:
            check_container_properties(node_range["container"], fargate=False)
        if node_range.get("ecs_properties") is not None:
            tasks.check_task_properties(node_range["ecs_properties"])
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

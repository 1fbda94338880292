"""AWS Batch validation rules as pure functions over snake_case request dicts: names, references, tags,
quotas and the per-resource rules. Each raises ClientException, with AWS's own text where it is known
(messages marked "chosen" are ours: AWS's text is unconfirmed). Imports errors only."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batchemu.domain import instance_types
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


@functools.lru_cache(maxsize=1024)  # every SubmitJob names one; clients name the same few again and again
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
        instance_types.check_instance_types(resources.get("instance_types"))
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
    if kind not in FARGATE_TYPES:
        instance_types.check_instance_types(changes.get("instance_types"))
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

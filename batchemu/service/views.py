"""Domain objects -> output dicts (snake_case; the serializer renames them by the output shape), and the
opaque page tokens the Describe/List operations hand out. Imports domain and errors."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from batchemu.domain.models import ComputeEnvironment, JobDefinition, JobQueue, SchedulingPolicy
from batchemu.errors import invalid_request

View = dict[str, Any]
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
# DescribeJobDefinitions echoes these container members even when they were never given.
_CONTAINER_LISTS = ("volumes", "environment", "mount_points", "ulimits", "resource_requirements")


def compute_environment(environment: ComputeEnvironment) -> View:
    return {
        "compute_environment_name": environment.name,
        "compute_environment_arn": environment.arn,
        "ecs_cluster_arn": environment.ecs_cluster_arn,
        "type": environment.type,
        "state": environment.state,
        "status": environment.status,
        "status_reason": environment.status_reason,
        "compute_resources": copy.deepcopy(environment.compute_resources),
        "service_role": environment.service_role,
        "unmanaged_vcpus": environment.unmanaged_vcpus,
        "update_policy": copy.deepcopy(environment.update_policy),
        "eks_configuration": copy.deepcopy(environment.eks_configuration),
        "container_orchestration_type": "EKS" if environment.eks_configuration else "ECS",
        "context": environment.context,
        "uuid": environment.uuid,
        "tags": dict(environment.tags),
    }


def job_queue(queue: JobQueue) -> View:
    return {
        "job_queue_name": queue.name,
        "job_queue_arn": queue.arn,
        "state": queue.state,
        "status": queue.status,
        "status_reason": queue.status_reason,
        "priority": queue.priority,
        "scheduling_policy_arn": queue.scheduling_policy_arn,
        "compute_environment_order": [
            {"order": entry.order, "compute_environment": entry.compute_environment_arn}
            for entry in queue.compute_environment_order
        ],
        "service_environment_order": copy.deepcopy(queue.service_environment_order) or None,
        "job_queue_type": queue.job_queue_type,
        "job_state_time_limit_actions": copy.deepcopy(queue.job_state_time_limit_actions),
        "tags": dict(queue.tags),
    }


def job_definition(definition: JobDefinition) -> View:
    container = copy.deepcopy(definition.container_properties)
    if container is not None:
        for key in _CONTAINER_LISTS:
            container.setdefault(key, [])
    return {
        "job_definition_name": definition.name,
        "job_definition_arn": definition.arn,
        "revision": definition.revision,
        "status": definition.status,
        "type": definition.type,
        "scheduling_priority": definition.scheduling_priority,
        "parameters": dict(definition.parameters),
        "retry_strategy": copy.deepcopy(definition.retry_strategy),
        "container_properties": container,
        "timeout": copy.deepcopy(definition.timeout),
        "node_properties": copy.deepcopy(definition.node_properties),
        "tags": dict(definition.tags),
        "propagate_tags": definition.propagate_tags,
        "platform_capabilities": list(definition.platform_capabilities),
        "ecs_properties": copy.deepcopy(definition.ecs_properties),
        "eks_properties": copy.deepcopy(definition.eks_properties),
        "container_orchestration_type": definition.container_orchestration_type,
        "consumable_resource_properties": copy.deepcopy(definition.consumable_resource_properties),
    }


def scheduling_policy(policy: SchedulingPolicy) -> View:
    return {
        "name": policy.name,
        "arn": policy.arn,
        "fairshare_policy": copy.deepcopy(policy.fairshare_policy),
        "quota_share_policy": copy.deepcopy(policy.quota_share_policy),
        "tags": dict(policy.tags),
    }


# -- pages --------------------------------------------------------------------------------------------


def page(items: Sequence[T], max_results: int | None, next_token: str | None) -> tuple[list[T], str | None]:
    """One page of `items` and the token for the next (None on the last page). Tokens hold an offset;
    a page size above 100 is served as 100, as the API documents 100 as the most per page."""
    if max_results is not None and max_results < 1:
        raise invalid_request("maxResults must be greater than 0")
    size = min(max_results or DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    start = _offset(next_token) if next_token else 0
    end = start + size
    return list(items[start:end]), (_token(end) if end < len(items) else None)


def page_of_references(
    references: list[str] | None,
    everything: Iterable[T],
    find: Callable[[str], T | None],
    request: dict[str, Any],
    list_member: str,
) -> tuple[list[T], str | None]:
    """Describe* by an explicit list of names or ARNs (unknown ones left out, duplicates once) or one page
    of everything; both at once is refused as AWS refuses it."""
    if references is not None and request.get("max_results") is not None:
        raise invalid_request(f"{list_member} and MaxResults cannot both be set")
    if references is None:
        items = list(everything)
    else:
        found = [item for item in (find(reference) for reference in references) if item is not None]
        items = list({id(item): item for item in found}.values())
    return page(items, request.get("max_results"), request.get("next_token"))


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid_request("Invalid nextToken") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid_request("Invalid nextToken")
    return offset

"""Service environments (capacity for SageMaker training service jobs): Create, Describe, Update, Delete.
Records live in backend.extras["service-environment"][name]. Like compute environments they are CREATING
(or UPDATING) until settle() makes them VALID on the next scheduler tick; a delete marks them DELETING
and settle() removes them."""

from __future__ import annotations

from typing import Any

from batchemu import arns
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service.extras_common import (
    SERVICE_ENVIRONMENT,
    Record,
    check_name,
    find_record,
    name_from_reference,
    page,
    records,
    tags_of,
)
from batchemu.service.operation import Request, RequestContext, Result

MAX_CAPACITY_LIMITS = 5  # the console allows at most five capacity limits
MAX_DESCRIBE = 100


def create_service_environment(ctx: RequestContext, request: Request) -> Result:
    name = request["service_environment_name"]
    check_name(name, "Service environment")
    environments = records(ctx.backend, SERVICE_ENVIRONMENT)
    if name in environments:
        raise ClientException(f"ServiceEnvironment {name} already exists.")
    record = {
        "name": name,
        "arn": arns.build(ctx.region, ctx.account, SERVICE_ENVIRONMENT, name),
        "service_environment_type": request["service_environment_type"],
        "state": request.get("state") or "ENABLED",
        "status": "CREATING",
        "capacity_limits": capacity_limits(request["capacity_limits"]),
        "tags": tags_of(request),
        "status_changed_at": ctx.now_ms,
    }
    environments[name] = record
    ctx.wake()
    return {"service_environment_name": name, "service_environment_arn": record["arn"]}


def capacity_limits(limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checked capacity limits: 1 to 5 of them, each with a unit given once and a maxCapacity >= 1."""
    if not limits:
        raise invalid_request("At least one capacity limit must be specified")
    if len(limits) > MAX_CAPACITY_LIMITS:
        raise invalid_request(
            f"At most {MAX_CAPACITY_LIMITS} capacity limits can be specified, got {len(limits)}"
        )
    units: set[str] = set()
    for limit in limits:
        unit, capacity = limit.get("capacity_unit"), limit.get("max_capacity")
        if not unit:
            raise invalid_request("Each capacity limit needs a capacityUnit")
        if capacity is None or capacity < 1:
            raise invalid_request(f"maxCapacity for capacityUnit {unit} must be at least 1, got {capacity}")
        if unit in units:
            raise invalid_request(f"capacityUnit {unit} is given more than once")
        units.add(unit)
    return [
        {"max_capacity": limit["max_capacity"], "capacity_unit": limit["capacity_unit"]} for limit in limits
    ]


def describe_service_environments(ctx: RequestContext, request: Request) -> Result:
    wanted = request.get("service_environments")
    if wanted is not None and request.get("max_results") is not None:
        raise invalid_request("ServiceEnvironments and MaxResults cannot both be set")
    environments = records(ctx.backend, SERVICE_ENVIRONMENT)
    if wanted is None:
        found = list(environments.values())
    else:
        if len(wanted) > MAX_DESCRIBE:
            raise invalid_request(f"Maximum number of service environments supported is {MAX_DESCRIBE}")
        found = _unique(
            record
            for reference in wanted
            if (record := find_record(ctx.backend, SERVICE_ENVIRONMENT, reference))
        )
    chunk, token = page(found, request, "DescribeServiceEnvironments")
    return {"service_environments": [_detail(record) for record in chunk], "next_token": token}


def _unique(found: Any) -> list[Record]:
    seen: dict[str, Record] = {}
    for record in found:
        seen.setdefault(record["name"], record)
    return list(seen.values())


def _detail(record: Record) -> dict[str, Any]:
    return {
        "service_environment_name": record["name"],
        "service_environment_arn": record["arn"],
        "service_environment_type": record["service_environment_type"],
        "state": record["state"],
        "status": record["status"],
        "capacity_limits": record["capacity_limits"],
        "tags": record["tags"] or None,
    }


def update_service_environment(ctx: RequestContext, request: Request) -> Result:
    record = _require(ctx.backend, request["service_environment"])
    if record["status"] == "DELETING":
        raise ClientException(f"ServiceEnvironment {record['name']} is being deleted and cannot be updated")
    if request.get("capacity_limits") is not None:
        record["capacity_limits"] = capacity_limits(request["capacity_limits"])
    if request.get("state") is not None:
        record["state"] = request["state"]
    record["status"] = "UPDATING"
    record["status_changed_at"] = ctx.now_ms
    ctx.wake()
    return {"service_environment_name": record["name"], "service_environment_arn": record["arn"]}


def delete_service_environment(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    record = _require(backend, request["service_environment"])
    if record["status"] == "DELETING":
        return {}
    if record["state"] != "DISABLED":
        raise ClientException(f"Cannot delete, ServiceEnvironment {record['name']} must be DISABLED first")
    if queues_using(backend, record):
        raise ClientException("Cannot delete, found existing JobQueue relationship")
    record["status"] = "DELETING"
    record["status_changed_at"] = ctx.now_ms
    ctx.wake()
    return {}


def queues_using(backend: Backend, record: Record) -> list[str]:
    """Names of the job queues whose serviceEnvironmentOrder names this service environment."""
    using = []
    for queue in backend.job_queues.values():
        for entry in queue.service_environment_order:
            reference = entry.get("service_environment") or ""
            if name_from_reference(reference, SERVICE_ENVIRONMENT, backend) == record["name"]:
                using.append(queue.name)
                break
    return using


def settle(backend: Backend, now_ms: int) -> bool:
    """CREATING/UPDATING -> VALID, DELETING -> gone; True when anything changed."""
    environments = records(backend, SERVICE_ENVIRONMENT)
    changed = False
    for name, record in list(environments.items()):
        if record["status"] in ("CREATING", "UPDATING"):
            record["status"], record["status_changed_at"] = "VALID", now_ms
            changed = True
        elif record["status"] == "DELETING":
            del environments[name]
            changed = True
    return changed


def _require(backend: Backend, reference: str) -> Record:
    record = find_record(backend, SERVICE_ENVIRONMENT, reference)
    if record is None:
        raise ClientException(f"ServiceEnvironment {reference} not found.")
    return record


HANDLERS = {
    "CreateServiceEnvironment": create_service_environment,
    "DescribeServiceEnvironments": describe_service_environments,
    "UpdateServiceEnvironment": update_service_environment,
    "DeleteServiceEnvironment": delete_service_environment,
}

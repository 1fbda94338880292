"""Consumable resources (resource-aware scheduling): Create/Describe/List/Update/Delete and
ListJobsByConsumableResource. Records live in backend.extras["consumable-resource"][name].

Quantities are derived from the jobs that name the resource in consumableResourceProperties: a job in
STARTING or RUNNING holds its quantity (inUseQuantity). A REPLENISHABLE resource gets it back when the job
ends (availableQuantity = total - in use); a NON_REPLENISHABLE one loses it for good once the job starts,
so its totalQuantity shrinks. `absorb_consumption` folds started jobs into the record; settle_extras calls
it each tick and every update calls it first, and reads subtract what is not folded in yet. The scheduler
does not yet hold RUNNABLE jobs back for lack of a consumable resource."""

from __future__ import annotations

from typing import Any

from batchemu import arns
from batchemu.domain.models import Job
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service.extras_common import (
    CLIENT_TOKEN_TTL_MS,
    CONSUMABLE_RESOURCE,
    Record,
    check_name,
    digest,
    find_record,
    name_from_reference,
    name_matches,
    page,
    records,
    single_filter,
    tags_of,
)
from batchemu.service.operation import Request, RequestContext, Result

RESOURCE_TYPES = ("REPLENISHABLE", "NON_REPLENISHABLE")
OPERATIONS = ("SET", "ADD", "REMOVE")
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
_LIVE = ("STARTING", "RUNNING")


def create_consumable_resource(ctx: RequestContext, request: Request) -> Result:
    name = request["consumable_resource_name"]
    check_name(name, "Consumable resource")
    resources = records(ctx.backend, CONSUMABLE_RESOURCE)
    if name in resources:
        raise ClientException(f"ConsumableResource {name} already exists.")
    resource_type = request.get("resource_type") or "REPLENISHABLE"
    if resource_type not in RESOURCE_TYPES:
        raise invalid_request(f"resourceType must be one of {', '.join(RESOURCE_TYPES)}, got {resource_type}")
    total = request.get("total_quantity", 0)
    _check_quantity(total, "totalQuantity")
    record = {
        "name": name,
        "arn": arns.build(ctx.region, ctx.account, CONSUMABLE_RESOURCE, name),
        "resource_type": resource_type,
        "total_quantity": total,
        "created_at": ctx.now_ms,
        "tags": tags_of(request),
        "consumed_by": {},  # NON_REPLENISHABLE: job id -> quantity already taken off total_quantity
        "client_tokens": {},  # UpdateConsumableResource idempotency
    }
    resources[name] = record
    return {"consumable_resource_name": name, "consumable_resource_arn": record["arn"]}


def describe_consumable_resource(ctx: RequestContext, request: Request) -> Result:
    record = _require(ctx.backend, request["consumable_resource"])
    total, in_use, available = quantities(ctx.backend, record)
    return {
        "consumable_resource_name": record["name"],
        "consumable_resource_arn": record["arn"],
        "total_quantity": total,
        "in_use_quantity": in_use,
        "available_quantity": available,
        "resource_type": record["resource_type"],
        "created_at": record["created_at"],
        "tags": record["tags"] or None,
    }


def list_consumable_resources(ctx: RequestContext, request: Request) -> Result:
    chosen = single_filter(request.get("filters"), ("CONSUMABLE_RESOURCE_NAME",))
    found = list(records(ctx.backend, CONSUMABLE_RESOURCE).values())
    if chosen is not None:
        found = [record for record in found if name_matches(record["name"], chosen[1])]
    chunk, token = page(found, request, "ListConsumableResources")
    return {"consumable_resources": [_summary(ctx.backend, record) for record in chunk], "next_token": token}


def _summary(backend: Backend, record: Record) -> dict[str, Any]:
    total, in_use, _ = quantities(backend, record)
    return {
        "consumable_resource_arn": record["arn"],
        "consumable_resource_name": record["name"],
        "total_quantity": total,
        "in_use_quantity": in_use,
        "resource_type": record["resource_type"],
    }


def update_consumable_resource(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    record = _require(backend, request["consumable_resource"])
    token = request.get("client_token")
    if not _replayed(record, token, digest(request), ctx.now_ms):
        absorb_consumption(backend, record)
        record["total_quantity"] = _new_total(record, request)
        if token is not None:
            record["client_tokens"][token] = {
                "digest": digest(request),
                "expires_at": ctx.now_ms + CLIENT_TOKEN_TTL_MS,
            }
    total, _, _ = quantities(backend, record)
    return {
        "consumable_resource_name": record["name"],
        "consumable_resource_arn": record["arn"],
        "total_quantity": total,
    }


def _replayed(record: Record, token: str | None, request_digest: str, now_ms: int) -> bool:
    """True when this clientToken already applied this very update (so it is not applied twice)."""
    tokens = record["client_tokens"]
    for old in [key for key, seen in tokens.items() if seen["expires_at"] <= now_ms]:
        del tokens[old]
    if token is None or token not in tokens:
        return False
    if tokens[token]["digest"] != request_digest:
        raise ClientException(f"clientToken {token} was already used with a different request")
    return True


def _new_total(record: Record, request: Request) -> int:
    operation = request.get("operation")
    quantity = request.get("quantity")
    total: int = record["total_quantity"]
    if operation is None and quantity is None:
        return total
    operation = operation or "SET"
    if operation not in OPERATIONS:
        raise invalid_request(f"operation must be one of {', '.join(OPERATIONS)}, got {operation}")
    if quantity is None:
        raise invalid_request(f"quantity is required for the {operation} operation")
    _check_quantity(quantity, "quantity")
    if operation == "SET":
        return int(quantity)
    if operation == "ADD":
        return total + quantity
    if quantity > total:
        raise invalid_request(
            f"Cannot remove {quantity} from consumable resource {record['name']}: its total quantity is {total}"
        )
    return total - quantity


def delete_consumable_resource(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    record = _require(backend, request["consumable_resource"])
    waiting = [job for job, _ in _jobs_requiring(backend, record) if not job.is_finished]
    if waiting:
        raise ClientException(
            f"Cannot delete consumable resource {record['name']}: {len(waiting)} unfinished job(s) require it"
        )
    del records(backend, CONSUMABLE_RESOURCE)[record["name"]]
    return {}


def list_jobs_by_consumable_resource(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    record = _require(backend, request["consumable_resource"])
    found = _jobs_requiring(backend, record, listing=True)
    chosen = single_filter(request.get("filters"), ("JOB_STATUS", "JOB_NAME"))
    if chosen is not None and chosen[0] == "JOB_STATUS":
        unknown = [value for value in chosen[1] if value not in JOB_STATUSES]
        if unknown:
            raise invalid_request(f"Invalid JOB_STATUS filter value {unknown[0]}")
        found = [(job, quantity) for job, quantity in found if job.status in chosen[1]]
    elif chosen is not None:
        found = [(job, quantity) for job, quantity in found if name_matches(job.name, chosen[1])]
    chunk, token = page(found, request, "ListJobsByConsumableResource")
    return {"jobs": [_job_summary(job, quantity) for job, quantity in chunk], "next_token": token}


def _job_summary(job: Job, quantity: int) -> dict[str, Any]:
    return {
        "job_arn": job.arn,
        "job_queue_arn": job.job_queue_arn,
        "job_name": job.name,
        "job_definition_arn": job.job_definition_arn,
        "share_identifier": job.share_identifier,
        "job_status": job.status,
        "quantity": quantity,
        "status_reason": job.status_reason,
        "started_at": job.started_at,
        "created_at": job.created_at,
        "consumable_resource_properties": job.consumable_resource_properties,
    }


# -- quantities --------------------------------------------------------------------------------------
def quantities(backend: Backend, record: Record) -> tuple[int, int, int]:
    """(totalQuantity, inUseQuantity, availableQuantity) as of now, without changing the record."""
    in_use = 0
    pending = 0  # NON_REPLENISHABLE consumption not folded into the record yet
    for job, quantity in _jobs_requiring(backend, record, live_only=True):
        if job.status in _LIVE:
            in_use += quantity
        if _started(job) and job.id not in record["consumed_by"]:
            pending += quantity
    if record["resource_type"] == "NON_REPLENISHABLE":
        total = max(record["total_quantity"] - pending, 0)
        return total, in_use, total
    total = record["total_quantity"]
    return total, in_use, max(total - in_use, 0)


def absorb_consumption(backend: Backend, record: Record) -> bool:
    """Take what started jobs consumed off a NON_REPLENISHABLE resource's total, once per job."""
    if record["resource_type"] != "NON_REPLENISHABLE":
        return False
    changed = False
    for job, quantity in _jobs_requiring(backend, record, live_only=True):
        if _started(job) and job.id not in record["consumed_by"]:
            record["consumed_by"][job.id] = quantity
            record["total_quantity"] = max(record["total_quantity"] - quantity, 0)
            changed = True
    return changed


def _started(job: Job) -> bool:
    return job.status in _LIVE or bool(job.attempts) or job.current_attempt is not None


def _jobs_requiring(
    backend: Backend, record: Record, listing: bool = False, live_only: bool = False
) -> list[tuple[Job, int]]:
    """(job, quantity) for every job whose consumableResourceProperties name this resource. For
    accounting, array parents are left out (only their children run); for listing, the children are.
    `live_only` looks at STARTING and RUNNING jobs alone: every job that starts is live for at least one
    scheduler tick, and the settle step runs on every tick, so accounting needs no more (and stays cheap
    however many finished jobs are stored)."""
    found = []
    jobs = (
        [*backend.jobs_by_status["STARTING"].values(), *backend.jobs_by_status["RUNNING"].values()]
        if live_only
        else backend.jobs.values()
    )
    for job in jobs:
        skip = job.array_index is not None if listing else job.is_array_parent
        if skip or not job.consumable_resource_properties:
            continue
        quantity = _quantity_for(backend, job, record["name"])
        if quantity is not None:
            found.append((job, quantity))
    return found


def _quantity_for(backend: Backend, job: Job, name: str) -> int | None:
    wanted = (job.consumable_resource_properties or {}).get("consumable_resource_list") or []
    total = None
    for requirement in wanted:
        reference = requirement.get("consumable_resource") or ""
        if name_from_reference(reference, CONSUMABLE_RESOURCE, backend) == name:
            total = (total or 0) + int(requirement.get("quantity") or 0)
    return total


def _require(backend: Backend, reference: str) -> Record:
    record = find_record(backend, CONSUMABLE_RESOURCE, reference)
    if record is None:
        raise ClientException(f"ConsumableResource {reference} not found.")
    return record


def _check_quantity(value: int, member: str) -> None:
    if value < 0:
        raise invalid_request(f"{member} must be non-negative, got {value}")


HANDLERS = {
    "CreateConsumableResource": create_consumable_resource,
    "DescribeConsumableResource": describe_consumable_resource,
    "ListConsumableResources": list_consumable_resources,
    "UpdateConsumableResource": update_consumable_resource,
    "DeleteConsumableResource": delete_consumable_resource,
    "ListJobsByConsumableResource": list_jobs_by_consumable_resource,
}

"""TagResource, UntagResource and ListTagsForResource for every taggable kind: compute environments, job
queues, job definitions, jobs (not array or multi-node children), scheduling policies, and the records
other operation families keep in `backend.extras` (dicts with "arn" and "tags")."""

from __future__ import annotations

from typing import Protocol

from batchemu import arns
from batchemu.domain import rules
from batchemu.domain.store import Backend
from batchemu.errors import ClientException
from batchemu.service.operation import Request, RequestContext, Result


class Tagged(Protocol):
    arn: str
    tags: dict[str, str]


def tags_of(backend: Backend, arn: str) -> dict[str, str]:
    """The live tag dict of the resource `arn` names; ClientException when there is none."""
    parsed = arns.parse(arn)
    if parsed is None or parsed.region != backend.region or parsed.account != backend.account:
        raise ClientException(f"Resource {arn} does not exist")
    if parsed.kind == "job" and any(mark in parsed.resource for mark in (":", "#")):
        raise ClientException(f"Tagging is not supported for child jobs of array or multi-node jobs: {arn}")
    holder = _holder(backend, parsed.kind, parsed.resource, arn)
    if holder is not None:
        return holder.tags
    for records in backend.extras.values():
        for record in records.values():
            if isinstance(record, dict) and record.get("arn") == arn:
                tags: dict[str, str] = record.setdefault("tags", {})
                return tags
    raise ClientException(f"Resource {arn} does not exist")


def _holder(backend: Backend, kind: str, resource: str, arn: str) -> Tagged | None:
    """The domain object for the core kinds, or None."""
    found: Tagged | None
    if kind == "compute-environment":
        found = backend.compute_environments.get(resource)
    elif kind == "job-queue":
        found = backend.job_queues.get(resource)
    elif kind == "scheduling-policy":
        found = backend.scheduling_policies.get(resource)
    elif kind == "job":
        found = backend.jobs.get(resource)
    elif kind == "job-definition":
        found = backend.find_job_definition(resource) if ":" in resource else None
    else:
        return None
    return found if found is not None and found.arn == arn else None


def tag_resource(ctx: RequestContext, request: Request) -> Result:
    tags = tags_of(ctx.backend, request["resource_arn"])
    merged = {**tags, **request["tags"]}
    rules.check_tags(merged)
    tags.update(request["tags"])
    _touch_job(ctx.backend, request["resource_arn"])
    return {}


def untag_resource(ctx: RequestContext, request: Request) -> Result:
    tags = tags_of(ctx.backend, request["resource_arn"])
    for key in request["tag_keys"]:
        tags.pop(key, None)
    _touch_job(ctx.backend, request["resource_arn"])
    return {}


def _touch_job(backend: Backend, arn: str) -> None:
    """Jobs are saved as they change; other resources are compared whole after each request."""
    job = backend.jobs.get(arn.rsplit("/", 1)[-1])
    if job is not None and job.arn == arn:
        backend.touch(job)


def list_tags_for_resource(ctx: RequestContext, request: Request) -> Result:
    return {"tags": dict(tags_of(ctx.backend, request["resource_arn"]))}


HANDLERS = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}

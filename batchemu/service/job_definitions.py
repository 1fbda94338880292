"""Register/Deregister/DescribeJobDefinitions. Revision n of a name is `job_definitions[name][n - 1]`;
deregistered revisions stay (INACTIVE), so revision numbers are never reused."""

from __future__ import annotations

import copy

from batchemu import arns
from batchemu.domain import job_definition_rules, rules
from batchemu.domain.models import JobDefinition
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service import views
from batchemu.service.operation import Request, RequestContext, Result

_FILTERS = ("job_definition_name", "status", "max_results", "next_token")


def register_job_definition(ctx: RequestContext, request: Request) -> Result:
    job_definition_rules.check_job_definition(request)
    name = request["job_definition_name"]
    revisions = ctx.backend.job_definitions.setdefault(name, [])
    revision = len(revisions) + 1
    eks = request.get("eks_properties")
    definition = JobDefinition(
        name=name,
        revision=revision,
        arn=arns.build(ctx.region, ctx.account, "job-definition", f"{name}:{revision}"),
        type=request["type"],
        status="ACTIVE",
        parameters=dict(request.get("parameters") or {}),
        retry_strategy=copy.deepcopy(request.get("retry_strategy")),
        timeout=copy.deepcopy(request.get("timeout")),
        propagate_tags=request.get("propagate_tags"),
        # EC2 is the default platform; EKS definitions take none.
        platform_capabilities=list(request.get("platform_capabilities") or ([] if eks else ["EC2"])),
        container_properties=copy.deepcopy(request.get("container_properties")),
        node_properties=copy.deepcopy(request.get("node_properties")),
        ecs_properties=copy.deepcopy(request.get("ecs_properties")),
        eks_properties=copy.deepcopy(eks),
        scheduling_priority=request.get("scheduling_priority"),
        consumable_resource_properties=copy.deepcopy(request.get("consumable_resource_properties")),
        container_orchestration_type="EKS" if eks else "ECS",
        tags=dict(request.get("tags") or {}),
    )
    revisions.append(definition)
    return {"job_definition_name": name, "job_definition_arn": definition.arn, "revision": revision}


def deregister_job_definition(ctx: RequestContext, request: Request) -> Result:
    reference = request["job_definition"]
    if rules.parse_job_definition_reference(reference).revision is None:
        raise ClientException(f"Job definition {reference} must be given as name:revision or as an ARN")
    definition = ctx.backend.find_job_definition(reference)
    if definition is None:
        raise ClientException(f"Job definition {reference} does not exist")
    definition.status = "INACTIVE"
    return {}


def describe_job_definitions(ctx: RequestContext, request: Request) -> Result:
    references = request.get("job_definitions")
    if references is not None:
        if request.get("max_results") is not None:
            raise invalid_request("JobDefinitions and MaxResults cannot both be set")
        if any(request.get(key) is not None for key in _FILTERS):
            raise invalid_request("JobDefinitions cannot be used with other parameters")
        definitions = _listed(ctx.backend, references)
    else:
        definitions = _filtered(ctx.backend, request.get("job_definition_name"), request.get("status"))
    shown, token = views.page(definitions, request.get("max_results"), request.get("next_token"))
    return {"job_definitions": [views.job_definition(d) for d in shown], "next_token": token}


def _listed(backend: Backend, references: list[str]) -> list[JobDefinition]:
    """`name:revision` or ARN references; a bare name matches nothing, as in AWS."""
    found: dict[str, JobDefinition] = {}
    for reference in references:
        parsed = rules.split_job_definition_reference(reference)
        if parsed is None or parsed.revision is None:
            continue
        definition = backend.find_job_definition(reference)
        if definition is not None:
            found.setdefault(definition.arn, definition)
    return list(found.values())


def _filtered(backend: Backend, name: str | None, status: str | None) -> list[JobDefinition]:
    """Grouped by name, newest revision first (as a real response listed them)."""
    names = [name] if name is not None else list(backend.job_definitions)
    return [
        definition
        for each in names
        for definition in reversed(backend.job_definitions.get(each, []))
        if status is None or definition.status == status
    ]


HANDLERS = {
    "RegisterJobDefinition": register_job_definition,
    "DeregisterJobDefinition": deregister_job_definition,
    "DescribeJobDefinitions": describe_job_definitions,
}

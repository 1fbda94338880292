"""SubmitJob: resolve the queue and job definition, check AWS's rules, build the Job and store it."""

from __future__ import annotations

import copy
import json

from batchemu import arns
from batchemu.domain import job_definition_rules, params, pods, rules, tasks
from batchemu.domain.models import Dependency, Job, JobDefinition, JobQueue, Spec
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service.operation import Request, RequestContext, Result

MAX_PAYLOAD_KIB = 30
MAX_DEPENDENCIES = 20
MAX_ARRAY_SIZE = 10_000
DEPRECATED_KEY = (
    "This value was submitted in a deprecated key and may conflict with the value provided by the job "
    "definition's resource requirements."
)


def submit_job(ctx: RequestContext, request: Request) -> Result:
    _check_payload_size(request)
    rules.check_name(request["job_name"], "Job")
    backend = ctx.backend
    queue = _resolve_queue(backend, request["job_queue"])
    definition = _resolve_definition(backend, request["job_definition"])
    _check_eks_overrides(definition, request)
    share_identifier, priority = _fair_share(backend, queue, definition, request)
    depends_on = _dependencies(backend, request.get("depends_on") or [], request)
    # Shared with the definition unless the job brings its own (stored values are never changed in place).
    parameters = (
        {**definition.parameters, **request["parameters"]}
        if request.get("parameters")
        else definition.parameters
    )
    job_id = arns.new_id()
    job = Job(
        id=job_id,
        arn=arns.build(ctx.region, ctx.account, "job", job_id),
        name=request["job_name"],
        job_queue_arn=queue.arn,
        job_definition_arn=definition.arn,
        created_at=ctx.now_ms,
        status_changed_at=ctx.now_ms,
        history=[(ctx.now_ms, "SUBMITTED", None)],
        depends_on=depends_on,
        parameters=parameters,
        container=None
        if definition.node_properties or definition.ecs_properties or definition.eks_properties
        else _container(backend, definition, request.get("container_overrides"), parameters),
        node_properties=_node_properties(definition, request.get("node_overrides"), parameters),
        ecs_properties=tasks.resolve_task(
            definition.ecs_properties, request.get("ecs_properties_override"), parameters
        )
        if definition.ecs_properties
        else None,
        eks_properties=pods.resolve_pod(
            definition.eks_properties, request.get("eks_properties_override"), parameters
        )
        if definition.eks_properties
        else None,
        retry_strategy=request.get("retry_strategy") or definition.retry_strategy,
        timeout=request.get("timeout") or definition.timeout,
        tags=dict(request.get("tags") or {}),
        propagate_tags=request.get("propagate_tags", definition.propagate_tags),
        platform_capabilities=list(definition.platform_capabilities),
        share_identifier=share_identifier,
        scheduling_priority=priority,
        consumable_resource_properties=request.get("consumable_resource_properties_override")
        or definition.consumable_resource_properties,
    )
    _check_job_rules(job, request)
    array = request.get("array_properties") or {}
    if "size" in array:
        job.array_size = array["size"]
    if job.node_properties is not None:
        job.num_nodes = int(job.node_properties["num_nodes"])
        job.main_node = int(job.node_properties.get("main_node", 0))
    backend.add_job(job)
    ctx.wake()
    return {"job_arn": job.arn, "job_name": job.name, "job_id": job.id}


def _check_payload_size(request: Request) -> None:
    size = len(json.dumps(request, separators=(",", ":")))
    if size > MAX_PAYLOAD_KIB * 1024:
        raise invalid_request(f"Job size must be less than {MAX_PAYLOAD_KIB} KiB, got {-(-size // 1024)} KiB")


def _resolve_queue(backend: Backend, reference: str) -> JobQueue:
    queue = backend.find_job_queue(reference)
    if queue is None or queue.status in ("DELETING", "DELETED"):
        raise ClientException(f"JobQueue {reference} not found.")
    if queue.state != "ENABLED":
        # AWS's exact text for a DISABLED queue is UNCONFIRMED (docs/compatibility.md).
        raise ClientException(f"JobQueue {reference} is not in ENABLED state and cannot accept jobs.")
    if queue.job_queue_type == "SAGEMAKER_TRAINING":
        raise ClientException(f"JobQueue {reference} is a SAGEMAKER_TRAINING queue; use SubmitServiceJob.")
    return queue


def _resolve_definition(backend: Backend, reference: str) -> JobDefinition:
    rules.parse_job_definition_reference(reference)
    definition = backend.find_job_definition(reference)
    if definition is None or definition.status != "ACTIVE":
        raise ClientException(f"JobDefinition name {reference} does not exist or is not in ACTIVE status")
    return definition


def _fair_share(
    backend: Backend, queue: JobQueue, definition: JobDefinition, request: Request
) -> tuple[str | None, int | None]:
    share = request.get("share_identifier")
    priority = request.get("scheduling_priority_override", definition.scheduling_priority)
    if not queue.is_fair_share:
        if share is not None:
            # The model says "Don't specify it" for FIFO queues; AWS's exact text is UNCONFIRMED.
            raise ClientException(
                "shareIdentifier can only be specified for a job queue with a scheduling policy."
            )
        return None, priority
    if share is None:
        raise ClientException("shareIdentifier must be specified.")
    if priority is None:
        raise ClientException(
            "Either schedulingPriority in job definition or schedulingPriorityOverride should be specified."
        )
    return share, priority


def _dependencies(backend: Backend, entries: list[Spec], request: Request) -> list[Dependency]:
    if len(entries) > MAX_DEPENDENCIES:
        raise invalid_request(f"Maximum number of dependencies supported is {MAX_DEPENDENCIES}")
    is_array = "size" in (request.get("array_properties") or {})
    result = []
    for entry in entries:
        # A typed dependency with a jobId on a job that is not an array, or SEQUENTIAL with a jobId, is a
        # plain one (real clients send them; nothing documents a refusal): scheduler/dependencies.py.
        job_id, kind = entry.get("job_id"), entry.get("type")
        if job_id or kind != "SEQUENTIAL":
            if not job_id:
                raise ClientException("dependsOn entries must have a jobId unless their type is SEQUENTIAL.")
            dependency = backend.jobs.get(job_id)
            if dependency is None:
                # AWS's text for an unknown dependency is UNCONFIRMED (docs/compatibility.md).
                raise ClientException(f"Dependent job ID {job_id} does not exist.")
            if kind == "N_TO_N" and is_array and dependency.array_size != request["array_properties"]["size"]:
                raise ClientException("An N_TO_N dependency needs an array job of the same size.")
        result.append(Dependency(job_id, kind))
    return result


def _container(
    backend: Backend, definition: JobDefinition, overrides: Spec | None, parameters: dict[str, str]
) -> Spec | None:
    """The resolved container of a container job (ecsProperties and eksProperties jobs run every
    container: domain/tasks.py, domain/pods.py). Jobs that change nothing share one resolved container
    per definition, which keeps a store of many jobs small."""
    properties = primary_container(definition)
    if properties is None:
        return None
    if overrides:
        fargate = (
            "FARGATE" in definition.platform_capabilities and definition.container_properties is not None
        )
        if fargate:
            job_definition_rules.check_fargate_overrides(overrides)
        _check_overrides(properties, overrides)
        container = params.resolve_container(properties, overrides, parameters)
        if fargate and overrides.get("resource_requirements"):
            need = params.requirements(container)
            job_definition_rules.check_fargate_need(need.vcpus, need.memory_mib)
        return container
    if parameters is definition.parameters:
        shared = backend.resolved_containers.get(definition.arn)
        if shared is None:
            shared = backend.resolved_containers[definition.arn] = params.resolve_container(
                properties, None, parameters
            )
        return shared
    return params.resolve_container(properties, overrides, parameters)


def _node_properties(
    definition: JobDefinition, overrides: Spec | None, parameters: dict[str, str]
) -> Spec | None:
    """The definition's node ranges with nodeOverrides and Ref:: applied to each range's container, task
    (ecsPropertiesOverride) or pod (eksPropertiesOverride)."""
    if not definition.node_properties:
        return None
    properties = copy.deepcopy(definition.node_properties)
    overrides = overrides or {}
    if "num_nodes" in overrides:
        properties["num_nodes"] = overrides["num_nodes"]
    groups = {group.get("target_nodes"): group for group in properties.get("node_range_properties", [])}
    unmatched = [
        o["target_nodes"]
        for o in overrides.get("node_property_overrides", [])
        if o.get("target_nodes") not in groups
    ]
    if unmatched:
        raise ClientException(
            f"NodeOverride targets should match job definition. Non matching targets - {', '.join(unmatched)}"
        )
    by_target = {o["target_nodes"]: o for o in overrides.get("node_property_overrides", [])}
    for target, group in groups.items():
        override = by_target.get(target) or {}
        if group.get("container") is not None:
            group["container"] = params.resolve_container(
                group["container"], override.get("container_overrides"), parameters
            )
        if group.get("ecs_properties"):
            group["ecs_properties"] = tasks.resolve_task(
                group["ecs_properties"], override.get("ecs_properties_override"), parameters
            )
        if group.get("eks_properties"):
            group["eks_properties"] = pods.resolve_pod(
                group["eks_properties"], override.get("eks_properties_override"), parameters
            )
    if properties.get("main_node", 0) >= properties["num_nodes"]:
        raise ClientException("mainNode must be less than numNodes.")
    return properties


def primary_container(definition: JobDefinition) -> Spec | None:
    if definition.container_properties is not None:
        return definition.container_properties
    if definition.ecs_properties:
        containers = definition.ecs_properties.get("task_properties", [{}])[0].get("containers", [])
        if containers:
            return containers[0]
    return None


def _check_overrides(properties: Spec, overrides: Spec) -> None:
    if any(part == "" for part in overrides.get("command", [])):
        raise invalid_request("Command field cannot have empty strings")
    declared = {entry["type"] for entry in properties.get("resource_requirements", [])}
    if ("vcpus" in overrides and "VCPU" in declared) or ("memory" in overrides and "MEMORY" in declared):
        raise ClientException(DEPRECATED_KEY)


def _check_eks_overrides(definition: JobDefinition, request: Request) -> None:
    """AWS refuses containerOverrides and nodeOverrides on a job of an eksProperties definition (its pod is
    changed with eksPropertiesOverride). An empty overrides object is let through: no evidence either way."""
    if definition.eks_properties and (request.get("container_overrides") or request.get("node_overrides")):
        raise ClientException("Container overrides or node overrides should not be set for Batch on EKS jobs.")


def _check_job_rules(job: Job, request: Request) -> None:
    job_definition_rules.check_retry_strategy(job.retry_strategy)
    job_definition_rules.check_timeout(job.timeout)
    size = (request.get("array_properties") or {}).get("size")
    if size is not None and not 2 <= size <= MAX_ARRAY_SIZE:
        raise ClientException(f"Array properties size must be between 2 and {MAX_ARRAY_SIZE}, got {size}.")

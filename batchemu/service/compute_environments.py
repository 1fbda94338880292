"""Create/Update/Delete/DescribeComputeEnvironments. The scheduler settles CREATING/UPDATING -> VALID and
removes DELETING environments on its next tick."""

from __future__ import annotations

import copy
import uuid

from batchemu import arns
from batchemu.domain import rules
from batchemu.domain.models import ComputeEnvironment, Spec
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request
from batchemu.service import views
from batchemu.service.operation import Request, RequestContext, Result

SERVICE_LINKED_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"
)
DEFAULT_UPDATE_POLICY = {"terminate_jobs_on_update": False, "job_execution_timeout_minutes": 30}
# Chosen: AWS's message for deleting an ENABLED compute environment is UNCONFIRMED.
DELETE_ENABLED = "Cannot delete, compute environment {name} is ENABLED; update its state to DISABLED first"


def find(backend: Backend, reference: str) -> ComputeEnvironment:
    environment = backend.find_compute_environment(reference)
    if environment is None:
        raise ClientException(f"Compute environment {reference} does not exist")
    return environment


def create_compute_environment(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    name = request["compute_environment_name"]
    rules.check_new_compute_environment(request)
    if name in backend.compute_environments:
        raise invalid_request("Object already exists")
    rules.check_quota(
        len(backend.compute_environments), rules.MAX_COMPUTE_ENVIRONMENTS, "compute environments"
    )
    eks = request.get("eks_configuration")
    environment = ComputeEnvironment(
        name=name,
        arn=arns.build(ctx.region, ctx.account, "compute-environment", name),
        type=request["type"],
        state=request.get("state", "ENABLED"),
        status="CREATING",
        status_reason="Compute environment is being created",
        compute_resources=_with_defaults(request.get("compute_resources")),
        service_role=request.get("service_role") or SERVICE_LINKED_ROLE.format(account=ctx.account),
        unmanaged_vcpus=request.get("unmanaged_vcpus"),
        update_policy=dict(DEFAULT_UPDATE_POLICY),
        eks_configuration=copy.deepcopy(eks),
        context=request.get("context"),
        ecs_cluster_arn=None if eks else arns.ecs_cluster_arn(ctx.region, ctx.account, name),
        uuid=str(uuid.uuid4()),
        tags=dict(request.get("tags") or {}),
        status_changed_at=ctx.clock.now(),
    )
    backend.compute_environments[name] = environment
    return {"compute_environment_name": name, "compute_environment_arn": environment.arn}


def _with_defaults(resources: Spec | None) -> Spec | None:
    """What AWS echoes for EC2/SPOT: BEST_FIT when no strategy was given, desiredvCpus starting at minvCpus,
    and the default ECS-optimised AMI type."""
    if resources is None:
        return None
    resources = copy.deepcopy(resources)
    if rules.platform_of(resources["type"]) == "EC2":
        resources.setdefault("allocation_strategy", "BEST_FIT")
        resources.setdefault("desired_vcpus", resources.get("min_vcpus", 0))
        resources.setdefault("ec2_configuration", [{"image_type": "ECS_AL2"}])
    return resources


def update_compute_environment(ctx: RequestContext, request: Request) -> Result:
    environment = find(ctx.backend, request["compute_environment"])
    if environment.status == "DELETING":
        raise ClientException(f"Compute environment {environment.name} is being deleted")
    rules.check_compute_environment_update(environment.type, environment.compute_resources, request)
    for key in ("state", "unmanaged_vcpus", "service_role", "context"):
        if request.get(key) is not None:
            setattr(environment, key, request[key])
    if request.get("update_policy") is not None:
        environment.update_policy = {**(environment.update_policy or {}), **request["update_policy"]}
    changes = request.get("compute_resources")
    if changes and environment.compute_resources is not None:
        environment.compute_resources = _merged(environment.compute_resources, changes)
    environment.status, environment.status_reason = "UPDATING", "Compute environment is being updated"
    environment.status_changed_at = ctx.clock.now()
    return {"compute_environment_name": environment.name, "compute_environment_arn": environment.arn}


def _merged(current: Spec, changes: Spec) -> Spec:
    """The new computeResources; a desiredvCpus not given is kept, moved inside the new min..max."""
    merged = {**current, **copy.deepcopy(changes)}
    if "desired_vcpus" not in changes and merged.get("desired_vcpus") is not None:
        desired = max(merged["desired_vcpus"], merged.get("min_vcpus") or 0)
        merged["desired_vcpus"] = min(desired, merged["max_vcpus"])
    return merged


def delete_compute_environment(ctx: RequestContext, request: Request) -> Result:
    environment = find(ctx.backend, request["compute_environment"])
    if environment.status == "DELETING":
        return {}
    if ctx.backend.queues_using(environment.arn):
        raise ClientException("Cannot delete, found existing JobQueue relationship")
    if environment.state == "ENABLED":
        raise ClientException(DELETE_ENABLED.format(name=environment.name))
    environment.status, environment.status_reason = "DELETING", "Compute environment is being deleted"
    environment.status_changed_at = ctx.clock.now()
    return {}


def describe_compute_environments(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    shown, token = views.page_of_references(
        request.get("compute_environments"),
        backend.compute_environments.values(),
        backend.find_compute_environment,
        request,
        "ComputeEnvironments",
    )
    return {"compute_environments": [views.compute_environment(e) for e in shown], "next_token": token}


HANDLERS = {
    "CreateComputeEnvironment": create_compute_environment,
    "UpdateComputeEnvironment": update_compute_environment,
    "DeleteComputeEnvironment": delete_compute_environment,
    "DescribeComputeEnvironments": describe_compute_environments,
}

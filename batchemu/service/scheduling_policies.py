"""Create/Update/Delete/Describe/ListSchedulingPolicies. Policies have no status: they exist or not."""

from __future__ import annotations

import copy

from batchemu import arns
from batchemu.domain import rules
from batchemu.domain.models import SchedulingPolicy
from batchemu.domain.store import Backend
from batchemu.errors import ClientException
from batchemu.service import views
from batchemu.service.operation import Request, RequestContext, Result


def find(backend: Backend, arn: str) -> SchedulingPolicy:
    policy = backend.find_scheduling_policy(arn)
    if policy is None:
        raise ClientException(f"Scheduling policy {arn} does not exist")
    return policy


def create_scheduling_policy(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    name = request["name"]
    rules.check_name(name, "Scheduling policy")
    if name in backend.scheduling_policies:
        raise ClientException(f"Scheduling policy {name} already exists")
    rules.check_fairshare_policy(request.get("fairshare_policy"))
    rules.check_tags(request.get("tags") or {})
    policy = SchedulingPolicy(
        name=name,
        arn=arns.build(ctx.region, ctx.account, "scheduling-policy", name),
        fairshare_policy=copy.deepcopy(request.get("fairshare_policy")),
        quota_share_policy=copy.deepcopy(request.get("quota_share_policy")),
        tags=dict(request.get("tags") or {}),
    )
    backend.scheduling_policies[name] = policy
    return {"name": name, "arn": policy.arn}


def update_scheduling_policy(ctx: RequestContext, request: Request) -> Result:
    """The given fairsharePolicy (or quotaSharePolicy) replaces the stored one as a whole."""
    policy = find(ctx.backend, request["arn"])
    rules.check_fairshare_policy(request.get("fairshare_policy"))
    if request.get("fairshare_policy") is not None:
        policy.fairshare_policy = copy.deepcopy(request["fairshare_policy"])
    if request.get("quota_share_policy") is not None:
        policy.quota_share_policy = copy.deepcopy(request["quota_share_policy"])
    return {}


def delete_scheduling_policy(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    policy = find(backend, request["arn"])
    users = sorted(
        queue.name for queue in backend.job_queues.values() if queue.scheduling_policy_arn == policy.arn
    )
    if users:
        raise ClientException(
            f"Cannot delete, scheduling policy {policy.name} is used by job queue(s): {', '.join(users)}"
        )
    del backend.scheduling_policies[policy.name]
    return {}


def describe_scheduling_policies(ctx: RequestContext, request: Request) -> Result:
    found = (ctx.backend.find_scheduling_policy(arn) for arn in request["arns"])
    policies = {policy.arn: policy for policy in found if policy is not None}
    return {"scheduling_policies": [views.scheduling_policy(p) for p in policies.values()]}


def list_scheduling_policies(ctx: RequestContext, request: Request) -> Result:
    policies = list(ctx.backend.scheduling_policies.values())
    shown, token = views.page(policies, request.get("max_results"), request.get("next_token"))
    return {"scheduling_policies": [{"arn": policy.arn} for policy in shown], "next_token": token}


HANDLERS = {
    "CreateSchedulingPolicy": create_scheduling_policy,
    "UpdateSchedulingPolicy": update_scheduling_policy,
    "DeleteSchedulingPolicy": delete_scheduling_policy,
    "DescribeSchedulingPolicies": describe_scheduling_policies,
    "ListSchedulingPolicies": list_scheduling_policies,
}

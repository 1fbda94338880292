"""CloudFormation's AWS::Batch::* resources provisioned in batchemu's own Batch: each create, update and
delete calls the same handlers as the API (validated by the same input shapes), in-process as the stack's
account and region; moto's CloudFormation reaches them through the hook in moto_cloudformation. Like
CloudFormation's own handlers it waits for a resource to stabilise (a compute environment or job queue
VALID, a deleted one gone): batchemu's settlers run at once instead of on the next scheduler tick."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchemu.clock import Clock
from batchemu.domain.store import Backend, Store
from batchemu.errors import ApiError
from batchemu.integrations import moto_cloudformation
from batchemu.integrations.cloudformation_properties import PropertyError, to_request
from batchemu.protocol import spec
from batchemu.protocol.validate import validate
from batchemu.service.dispatch import dispatch, operation_table
from batchemu.service.operation import RequestContext

log = logging.getLogger("batchemu.cloudformation")

CE, JQ, JD = "AWS::Batch::ComputeEnvironment", "AWS::Batch::JobQueue", "AWS::Batch::JobDefinition"
SP, CR = "AWS::Batch::SchedulingPolicy", "AWS::Batch::ConsumableResource"
# The name property of each type, and the properties whose change AWS's resource reference marks
# "Update requires: Replacement".
NAME_PROPERTY = {
    CE: "ComputeEnvironmentName",
    JQ: "JobQueueName",
    JD: "JobDefinitionName",
    SP: "Name",
    CR: "ConsumableResourceName",
}
REPLACED_BY = {
    CE: ("ComputeEnvironmentName", "Type", "Tags", "EksConfiguration"),
    JQ: ("JobQueueName", "Tags", "JobQueueType"),
    JD: ("JobDefinitionName",),
    SP: ("Name", "Tags"),
    CR: ("ConsumableResourceName", "ResourceType", "Tags"),
}
ATTRIBUTES = {
    CE: ("ComputeEnvironmentArn",),
    JQ: ("JobQueueArn",),
    JD: ("JobDefinitionArn",),
    SP: ("Arn",),
    CR: ("ConsumableResourceArn", "CreatedAt"),
}


class ResourceFailed(Exception):
    """What the resource's CREATE_FAILED / UPDATE_FAILED / DELETE_FAILED event says."""


@dataclass
class Provisioned:
    physical_id: str  # what Ref gives: the ARN for every Batch type
    attributes: dict[str, Any] = field(default_factory=dict)


def handler_message(error: ApiError, request_id: str) -> str:
    """A refused call as CloudFormation's resource handlers report it."""
    code = "InvalidRequest" if error.status < 500 else "GeneralServiceException"
    return (
        f'Resource handler returned message: "{error.message_for(request_id)} (Service: Batch, Status Code: '
        f'{error.status}, Request ID: {request_id})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})'
    )


class BatchResources:
    """The provider moto_cloudformation calls (from moto's request thread)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Any,
        settlers: Callable[[], list[Callable[[Backend, float], bool]]],
        after_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.settlers = settlers
        self.after_change = after_change
        self.handlers = operation_table()

    # -- the calls --------------------------------------------------------------------------------
    def call(self, account: str, region: str, operation: str, wire: dict[str, Any]) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        try:
            parsed = validate(wire, spec.operation(operation).input_shape)
            with self.store.lock:
                backend = self.store.backend(account, region)
                ctx = RequestContext(account, region, request_id, backend, self.clock, settings=self.settings)
                result = dispatch(self.handlers, operation, ctx, parsed)
                if not operation.startswith("Describe"):
                    self._settle(backend)
        except ApiError as error:
            raise ResourceFailed(handler_message(error, request_id)) from None
        self.after_change()
        return result

    def _settle(self, backend: Backend) -> None:
        now = self.clock.now()
        for settle in self.settlers():
            settle(backend, now)

    # -- create, update, delete -------------------------------------------------------------------
    def create(
        self, kind: str, logical_id: str, name: str, properties: dict[str, Any], account: str, region: str
    ) -> Provisioned:
        name = str(properties.get(NAME_PROPERTY[kind]) or name)
        try:
            return _CREATE[kind](self, logical_id, name, properties, account, region)
        except PropertyError as error:
            raise ResourceFailed(str(error)) from None

    def update(
        self,
        kind: str,
        logical_id: str,
        current: Provisioned,
        old: dict[str, Any],
        new: dict[str, Any],
        name: str,
        account: str,
        region: str,
    ) -> Provisioned:
        """In place, or a replacement (created first, the old one deleted after) when a property whose
        change requires it changed."""
        replaced = [key for key in REPLACED_BY[kind] if old.get(key) != new.get(key)]
        if not replaced:
            try:
                return _UPDATE[kind](self, logical_id, current, old, new, account, region)
            except PropertyError as error:
                raise ResourceFailed(str(error)) from None
        custom = old.get(NAME_PROPERTY[kind])
        if custom and custom == new.get(NAME_PROPERTY[kind]):
            raise ResourceFailed(
                f"CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                f"Rename {custom} and update the stack again."
            )
        created = self.create(kind, logical_id, name, new, account, region)
        try:
            self.delete(kind, current, old, account, region)
        except ResourceFailed as error:  # a dependant not updated by moto still points at the old one
            log.warning("%s: the replaced %s stays: %s", logical_id, current.physical_id, error)
        return created

    def delete(
        self, kind: str, current: Provisioned, properties: dict[str, Any], account: str, region: str
    ) -> None:
        _DELETE[kind](self, current, properties, account, region)


# -- per type -------------------------------------------------------------------------------------------
def _create_compute_environment(
    p: BatchResources, logical_id: str, name: str, props: dict[str, Any], account: str, region: str
) -> Provisioned:
    wire = to_request(
        logical_id, props, "CreateComputeEnvironment", skip=("ReplaceComputeEnvironment", "UpdatePolicy")
    )
    wire["computeEnvironmentName"] = name
    arn = p.call(account, region, "CreateComputeEnvironment", wire)["compute_environment_arn"]
    if props.get("UpdatePolicy"):
        policy = to_request(logical_id, {"UpdatePolicy": props["UpdatePolicy"]}, "UpdateComputeEnvironment")
        p.call(account, region, "UpdateComputeEnvironment", {"computeEnvironment": arn, **policy})
    return Provisioned(arn, {"ComputeEnvironmentArn": arn})


def _update_compute_environment(
    p: BatchResources,
    logical_id: str,
    current: Provisioned,
    old: dict[str, Any],
    new: dict[str, Any],
    account: str,
    region: str,
) -> Provisioned:
    keys = ("State", "UnmanagedvCpus", "ServiceRole", "UpdatePolicy", "Context")
    changed = {key: new[key] for key in keys if key in new and old.get(key) != new[key]}
    old_resources, new_resources = old.get("ComputeResources") or {}, new.get("ComputeResources") or {}
    resources = {k: v for k, v in new_resources.items() if old_resources.get(k) != v}
    if resources:
        changed["ComputeResources"] = resources
    if changed:
        wire = to_request(logical_id, changed, "UpdateComputeEnvironment")
        p.call(
            account, region, "UpdateComputeEnvironment", {"computeEnvironment": current.physical_id, **wire}
        )
    return current


def _delete_compute_environment(
    p: BatchResources, current: Provisioned, props: dict[str, Any], account: str, region: str
) -> None:
    found = p.call(
        account, region, "DescribeComputeEnvironments", {"computeEnvironments": [current.physical_id]}
    )
    environments = found["compute_environments"]
    if not environments:
        return
    if environments[0].get("state") == "ENABLED":
        p.call(
            account,
            region,
            "UpdateComputeEnvironment",
            {"computeEnvironment": current.physical_id, "state": "DISABLED"},
        )
    p.call(account, region, "DeleteComputeEnvironment", {"computeEnvironment": current.physical_id})


def _create_job_queue(
    p: BatchResources, logical_id: str, name: str, props: dict[str, Any], account: str, region: str
) -> Provisioned:
    wire = to_request(logical_id, props, "CreateJobQueue")
    wire["jobQueueName"] = name
    arn = p.call(account, region, "CreateJobQueue", wire)["job_queue_arn"]
    return Provisioned(arn, {"JobQueueArn": arn})


def _update_job_queue(
    p: BatchResources,
    logical_id: str,
    current: Provisioned,
    old: dict[str, Any],
    new: dict[str, Any],
    account: str,
    region: str,
) -> Provisioned:
    keys = (
        "State",
        "Priority",
        "ComputeEnvironmentOrder",
        "SchedulingPolicyArn",
        "JobStateTimeLimitActions",
        "ServiceEnvironmentOrder",
    )
    changed = {key: new[key] for key in keys if key in new and old.get(key) != new[key]}
    if changed:
        wire = to_request(logical_id, changed, "UpdateJobQueue")
        p.call(account, region, "UpdateJobQueue", {"jobQueue": current.physical_id, **wire})
    return current


def _delete_job_queue(
    p: BatchResources, current: Provisioned, props: dict[str, Any], account: str, region: str
) -> None:
    queues = p.call(account, region, "DescribeJobQueues", {"jobQueues": [current.physical_id]})["job_queues"]
    if not queues:
        return
    if queues[0].get("state") == "ENABLED":
        p.call(account, region, "UpdateJobQueue", {"jobQueue": current.physical_id, "state": "DISABLED"})
    p.call(account, region, "DeleteJobQueue", {"jobQueue": current.physical_id})


def _register_job_definition(
    p: BatchResources, logical_id: str, name: str, props: dict[str, Any], account: str, region: str
) -> Provisioned:
    wire = to_request(logical_id, props, "RegisterJobDefinition", skip=("ResourceRetentionPolicy",))
    wire["jobDefinitionName"] = name
    arn = p.call(account, region, "RegisterJobDefinition", wire)["job_definition_arn"]
    return Provisioned(arn, {"JobDefinitionArn": arn})


def _update_job_definition(
    p: BatchResources,
    logical_id: str,
    current: Provisioned,
    old: dict[str, Any],
    new: dict[str, Any],
    account: str,
    region: str,
) -> Provisioned:
    """A new revision under the same name; the old one is deregistered unless
    ResourceRetentionPolicy.SkipDeregisterOnUpdate says to keep it."""
    name = current.physical_id.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    created = _register_job_definition(p, logical_id, name, new, account, region)
    if (
        str((new.get("ResourceRetentionPolicy") or {}).get("SkipDeregisterOnUpdate", "false")).lower()
        != "true"
    ):
        p.call(account, region, "DeregisterJobDefinition", {"jobDefinition": current.physical_id})
    return created


def _deregister_job_definition(
    p: BatchResources, current: Provisioned, props: dict[str, Any], account: str, region: str
) -> None:
    found = p.call(account, region, "DescribeJobDefinitions", {"jobDefinitions": [current.physical_id]})
    if any(d.get("status") == "ACTIVE" for d in found["job_definitions"]):
        p.call(account, region, "DeregisterJobDefinition", {"jobDefinition": current.physical_id})


def _create_scheduling_policy(
    p: BatchResources, logical_id: str, name: str, props: dict[str, Any], account: str, region: str
) -> Provisioned:
    wire = to_request(logical_id, props, "CreateSchedulingPolicy")
    wire["name"] = name
    arn = p.call(account, region, "CreateSchedulingPolicy", wire)["arn"]
    return Provisioned(arn, {"Arn": arn})


def _update_scheduling_policy(
    p: BatchResources,
    logical_id: str,
    current: Provisioned,
    old: dict[str, Any],
    new: dict[str, Any],
    account: str,
    region: str,
) -> Provisioned:
    keys: tuple[str, ...] = ("FairsharePolicy", "QuotaSharePolicy")
    changed = {k: new[k] for k in keys if k in new and old.get(k) != new[k]}
    if changed:
        wire = to_request(logical_id, changed, "UpdateSchedulingPolicy")
        p.call(account, region, "UpdateSchedulingPolicy", {"arn": current.physical_id, **wire})
    return current


def _delete_scheduling_policy(
    p: BatchResources, current: Provisioned, props: dict[str, Any], account: str, region: str
) -> None:
    p.call(account, region, "DeleteSchedulingPolicy", {"arn": current.physical_id})


def _create_consumable_resource(
    p: BatchResources, logical_id: str, name: str, props: dict[str, Any], account: str, region: str
) -> Provisioned:
    wire = to_request(logical_id, props, "CreateConsumableResource")
    wire["consumableResourceName"] = name
    arn = p.call(account, region, "CreateConsumableResource", wire)["consumable_resource_arn"]
    found = p.call(account, region, "DescribeConsumableResource", {"consumableResource": arn})
    return Provisioned(arn, {"ConsumableResourceArn": arn, "CreatedAt": found.get("created_at")})


def _update_consumable_resource(
    p: BatchResources,
    logical_id: str,
    current: Provisioned,
    old: dict[str, Any],
    new: dict[str, Any],
    account: str,
    region: str,
) -> Provisioned:
    if new.get("TotalQuantity") != old.get("TotalQuantity"):
        wire = to_request(logical_id, {"Quantity": new.get("TotalQuantity")}, "UpdateConsumableResource")
        p.call(
            account,
            region,
            "UpdateConsumableResource",
            {"consumableResource": current.physical_id, "operation": "SET", **wire},
        )
    return current


def _delete_consumable_resource(
    p: BatchResources, current: Provisioned, props: dict[str, Any], account: str, region: str
) -> None:
    p.call(account, region, "DeleteConsumableResource", {"consumableResource": current.physical_id})


_CREATE = {
    CE: _create_compute_environment,
    JQ: _create_job_queue,
    JD: _register_job_definition,
    SP: _create_scheduling_policy,
    CR: _create_consumable_resource,
}
_UPDATE = {
    CE: _update_compute_environment,
    JQ: _update_job_queue,
    JD: _update_job_definition,
    SP: _update_scheduling_policy,
    CR: _update_consumable_resource,
}
_DELETE = {
    CE: _delete_compute_environment,
    JQ: _delete_job_queue,
    JD: _deregister_job_definition,
    SP: _delete_scheduling_policy,
    CR: _delete_consumable_resource,
}


def connect(provider: BatchResources) -> None:
    """`provider` serves moto's AWS::Batch::* resources from now on (held weakly by the hook)."""
    moto_cloudformation.register_provider(provider)


def disconnect(provider: BatchResources) -> None:
    moto_cloudformation.unregister_provider(provider)

"""Hooks into moto's CloudFormation (tested with moto 5.2.5; a missing hook point is logged and leaves moto
as it is): AWS::Batch::* resources go to batchemu's provider (integrations/cloudformation) instead of moto's
own Batch, which batchemu does not serve; and every stack gets what AWS's CloudFormation does and moto's
does not - resource events (CREATE_IN_PROGRESS/CREATE_COMPLETE/CREATE_FAILED...), rollback of a failed
create (ROLLBACK_IN_PROGRESS, created resources deleted, ROLLBACK_COMPLETE) or update
(UPDATE_ROLLBACK_IN_PROGRESS ... UPDATE_ROLLBACK_COMPLETE), and deletion in reverse dependency order.
Hook points: parsing.resource_class_from_type here; parse_and_create_resource, parse_and_update_resource,
Stack.create_resources, update, delete, ChangeSet.apply, CloudFormationBackend.execute_change_set and
delete_stack in moto_stack_events (checked here, before anything is hooked). Imports the standard library,
moto_stack_events, moto_hooks, moto_imports (and moto, lazily) only."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from batchemu.integrations import moto_stack_events
from batchemu.integrations.moto_hooks import Registry, hook_point_missing, moto_version
from batchemu.integrations.moto_imports import after_import

log = logging.getLogger("batchemu.cloudformation")
BATCH_TYPES = (
    "AWS::Batch::ComputeEnvironment",
    "AWS::Batch::JobQueue",
    "AWS::Batch::JobDefinition",
    "AWS::Batch::SchedulingPolicy",
    "AWS::Batch::ConsumableResource",
)
MAX_NAME = 128


class Provisioned(Protocol):
    physical_id: str
    attributes: dict[str, Any]


class Provider(Protocol):
    def create(
        self, kind: str, logical_id: str, name: str, properties: dict[str, Any], account: str, region: str
    ) -> Provisioned: ...

    def update(
        self,
        kind: str,
        logical_id: str,
        current: Any,
        old: dict[str, Any],
        new: dict[str, Any],
        name: str,
        account: str,
        region: str,
    ) -> Provisioned: ...

    def delete(
        self, kind: str, current: Any, properties: dict[str, Any], account: str, region: str
    ) -> None: ...


_providers: Registry[Provider] = Registry()
_lock = threading.Lock()
_installed: bool | None = None


def register_provider(provider: Provider) -> None:
    """`provider` takes AWS::Batch::* resources from now on (the newest live one wins; held weakly); moto's
    CloudFormation is hooked once it is imported (moto_imports)."""
    _providers.add(provider)
    after_import(("moto.cloudformation",), _install_locked)


def _install_locked() -> None:
    with _lock:
        _install()


def unregister_provider(provider: Provider) -> None:
    _providers.remove(provider)


def active_provider() -> Provider | None:
    return _providers.newest()


def generated_name(stack_name: str, logical_id: str) -> str:
    """stackname-logicalid-SUFFIX as CloudFormation names a resource whose name property is absent (12
    upper-case letters and digits, moto's random_suffix), the prefix cut to fit Batch's 128 characters."""
    from moto.cloudformation.utils import random_suffix

    suffix = random_suffix()
    return f"{f'{stack_name}-{logical_id}'[: MAX_NAME - len(suffix) - 1]}-{suffix}"


def stack_name_of(stack_id: str) -> str:
    """arn:aws:cloudformation:region:account:stack/NAME/uuid -> NAME."""
    parts = stack_id.split("/")
    return parts[1] if len(parts) >= 3 else stack_id


class BatchStackResource:
    """An AWS::Batch::* resource as moto's ResourceMap holds it; Ref gives the ARN."""

    cf_type = ""
    attributes: tuple[str, ...] = ()

    def __init__(
        self, provisioned: Provisioned, properties: dict[str, Any], logical_id: str, stack_name: str
    ):
        self.provisioned = provisioned
        self.properties = properties
        self.logical_resource_id = logical_id
        self.cf_resource_type = self.cf_type
        self.stack_name = stack_name

    @property
    def physical_resource_id(self) -> str:
        return self.provisioned.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attr: str) -> Any:
        if attr in self.provisioned.attributes:
            return self.provisioned.attributes[attr]
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BatchStackResource:
        provider = _provider()
        stack_name = stack_name_of(str(kwargs.get("StackId", "")))
        logical_id = str(kwargs.get("LogicalId", resource_name))
        properties = dict(cloudformation_json.get("Properties") or {})
        name = generated_name(stack_name, logical_id)
        made = provider.create(cls.cf_type, logical_id, name, properties, account_id, region_name)
        return cls(made, properties, logical_id, stack_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: BatchStackResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> BatchStackResource:
        old = original_resource
        properties = dict(cloudformation_json.get("Properties") or {})
        name = generated_name(old.stack_name, old.logical_resource_id)
        made = _provider().update(
            cls.cf_type,
            old.logical_resource_id,
            old.provisioned,
            old.properties,
            properties,
            name,
            account_id,
            region_name,
        )
        return cls(made, properties, old.logical_resource_id, old.stack_name)

    def delete(self, account_id: str, region_name: str) -> None:
        _provider().delete(self.cf_type, self.provisioned, self.properties, account_id, region_name)


def _provider() -> Provider:
    provider = active_provider()
    if provider is None:
        raise RuntimeError("no batchemu emulator serves AWS::Batch resources in this process")
    return provider


_CLASSES: dict[str, type[BatchStackResource]] = {}


def batch_class(cf_type: str, attributes: tuple[str, ...]) -> type[BatchStackResource]:
    found = _CLASSES.get(cf_type)
    if found is None:
        short = cf_type.rsplit("::", 1)[-1]
        found = type(
            f"BatchEmu{short}", (BatchStackResource,), {"cf_type": cf_type, "attributes": attributes}
        )
        _CLASSES[cf_type] = found
    return found


ATTRIBUTES = {
    "AWS::Batch::ComputeEnvironment": ("ComputeEnvironmentArn",),
    "AWS::Batch::JobQueue": ("JobQueueArn",),
    "AWS::Batch::JobDefinition": ("JobDefinitionArn",),
    "AWS::Batch::SchedulingPolicy": ("Arn",),
    "AWS::Batch::ConsumableResource": ("ConsumableResourceArn", "CreatedAt"),
}


# -- installing ---------------------------------------------------------------------------------------------
_HOOKS = {
    "parsing": ("resource_class_from_type", "parse_and_create_resource", "parse_and_update_resource"),
    "Stack": ("create_resources", "update", "delete"),
    "ChangeSet": ("apply",),
    "CloudFormationBackend": ("execute_change_set", "delete_stack"),
}


def _install() -> bool:
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    if moto_version("CloudFormation's AWS::Batch::* resources") is None:
        return False
    from moto.cloudformation import models, parsing

    owners = {
        "parsing": parsing,
        **{name: getattr(models, name, None) for name in _HOOKS if name != "parsing"},
    }
    missing = [
        f"{owner}.{name}"
        for owner, names in _HOOKS.items()
        for name in names
        if not callable(getattr(owners[owner], name, None))
    ]
    if missing:
        hook_point_missing("CloudFormation stacks will use moto's own Batch", ", ".join(missing))
        return False
    _hook_types(parsing)
    moto_stack_events.install(parsing, models)
    _installed = True
    return True


def _hook_types(parsing: Any) -> None:
    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in ATTRIBUTES and active_provider() is not None:
            return batch_class(resource_type, ATTRIBUTES[resource_type])
        return original(resource_type)

    resource_class_from_type.__wrapped__ = original  # type: ignore[attr-defined]
    parsing.resource_class_from_type = resource_class_from_type

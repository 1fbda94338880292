"""What AWS's CloudFormation does for every stack and moto's does not (hooked by moto_cloudformation, moto
5.2.5): resource events (CREATE_IN_PROGRESS/CREATE_COMPLETE/CREATE_FAILED, UPDATE_*, DELETE_*), rollback of
a failed create (ROLLBACK_IN_PROGRESS, created resources deleted, ROLLBACK_COMPLETE) or update
(UPDATE_ROLLBACK_IN_PROGRESS, previous template re-applied, UPDATE_ROLLBACK_COMPLETE), and deletion in
reverse creation order. Imports the standard library (and moto, lazily) only."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

log = logging.getLogger("batchemu.cloudformation")


def install(parsing: Any, models: Any) -> None:
    """Hooks moto's parsing module and models (their hook points were checked by the caller)."""
    _hook_resource_events(parsing)
    _hook_stacks(models)


# -- resource events, rollback, ordered deletion --------------------------------------------------------
_local = threading.local()  # .stack: the stack whose operation runs on this thread; .failed; .emitted


def _begin(stack: Any) -> None:
    _local.stack, _local.failed, _local.emitted = stack, [], set()


def _end() -> None:
    _local.stack = None


def _event(
    stack: Any,
    logical_id: str,
    physical_id: str,
    kind: str,
    status: str,
    reason: str | None = None,
    properties: Any = None,
) -> None:
    """One resource event, once per (resource, status) within an operation (moto retries failed updates)."""
    emitted: set[tuple[str, str]] = getattr(_local, "emitted", set())
    if (logical_id, status) in emitted:
        return
    emitted.add((logical_id, status))
    from moto.cloudformation.models import Event

    shown = json.dumps(properties, default=str) if properties is not None else None
    event = Event(stack.stack_id, stack.name, logical_id, physical_id, kind, status, reason, shown)
    try:
        event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    except Exception:
        log.exception("stack %s: could not send an event to its notification topics", stack.name)
    stack.events.append(event)


def reason_of(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message)


_SUB_NAME = re.compile(r"\$\{([^!}][^}.]*)(?:\.[^}]*)?\}")


def referenced(value: Any) -> set[str]:
    """The logical ids a resource's JSON refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) and item else str(item).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                template = item[0] if isinstance(item, list) and item else item
                found.update(_SUB_NAME.findall(template) if isinstance(template, str) else ())
            elif key == "DependsOn":
                found.update([item] if isinstance(item, str) else [str(i) for i in item or []])
            found |= referenced(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced(item)
    return found


def _create_dependencies_first(logical_id: str, resource_json: dict[str, Any], resources_map: Any) -> None:
    """Resources this one refers to are created before its CREATE_IN_PROGRESS, as AWS orders events."""
    resources = resources_map._resource_json_map
    for name in sorted(referenced(resource_json)):
        if name != logical_id and name in resources:
            resources_map[name]


def _hook_resource_events(parsing: Any) -> None:
    create_original = parsing.parse_and_create_resource
    update_original = parsing.parse_and_update_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        stack = getattr(_local, "stack", None)
        condition = resource_json.get("Condition")
        skipped = condition and not resources_map.lazy_condition_map[condition]
        if stack is None or skipped or parsing.resource_class_from_type(resource_json["Type"]) is None:
            return create_original(logical_id, resource_json, resources_map, account_id, region_name)
        _create_dependencies_first(logical_id, resource_json, resources_map)
        kind = resource_json["Type"]
        _event(stack, logical_id, "", kind, "CREATE_IN_PROGRESS")
        try:
            made = create_original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            _local.failed.append(logical_id)
            _event(stack, logical_id, "", kind, "CREATE_FAILED", reason_of(error))
            raise
        _event(
            stack, logical_id, str(getattr(made, "physical_resource_id", "") or ""), kind, "CREATE_COMPLETE"
        )
        return made

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        stack = getattr(_local, "stack", None)
        if stack is None:
            return update_original(logical_id, resource_json, resources_map, account_id, region_name)
        _create_dependencies_first(logical_id, resource_json, resources_map)
        kind = resource_json["Type"]
        old = resources_map._parsed_resources.get(logical_id)
        _event(
            stack, logical_id, str(getattr(old, "physical_resource_id", "") or ""), kind, "UPDATE_IN_PROGRESS"
        )
        try:
            made = update_original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            if logical_id not in _local.failed:
                _local.failed.append(logical_id)
            _event(stack, logical_id, "", kind, "UPDATE_FAILED", reason_of(error))
            raise
        if made is None:  # moto cannot update this type: the resource stays as it was
            return old
        _event(
            stack, logical_id, str(getattr(made, "physical_resource_id", "") or ""), kind, "UPDATE_COMPLETE"
        )
        return made

    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource


def delete_resources(stack: Any) -> list[str]:
    """Deletes the stack's resources, newest first (the reverse of creation, so dependants go before what
    they depend on); a failure is retried after the others, as long as deleting makes progress. Returns the
    logical ids that could not be deleted."""
    resource_map = stack.resource_map
    parsed, templates = resource_map._parsed_resources, resource_map._resource_json_map
    remaining = [name for name in reversed(list(parsed)) if name in templates and parsed[name] is not None]
    errors: dict[str, str] = {}
    while remaining:
        progress = False
        for name in list(remaining):
            resource, template = parsed[name], templates[name]
            kind, physical = (
                template.get("Type", ""),
                str(getattr(parsed[name], "physical_resource_id", "") or ""),
            )
            if template.get("DeletionPolicy") == "Retain":
                _event(stack, name, physical, kind, "DELETE_SKIPPED")
                remaining.remove(name)
                continue
            _event(stack, name, physical, kind, "DELETE_IN_PROGRESS")
            try:
                resource_map._delete_resource(resource, template)
            except Exception as error:
                errors[name] = reason_of(error)
                continue
            _event(stack, name, physical, kind, "DELETE_COMPLETE")
            parsed.pop(name, None)
            remaining.remove(name)
            progress = True
        if not progress:
            break
    for name in remaining:
        _event(stack, name, "", templates[name].get("Type", ""), "DELETE_FAILED", errors.get(name))
    # moto's ResourceMap creates any resource of its template it does not hold when it is read
    # (DescribeStackResources, outputs): only what is left may stay in it.
    resource_map._resource_json_map = {name: templates[name] for name in remaining}
    return remaining


def _roll_back_create(stack: Any, error: BaseException) -> None:
    from moto.cloudformation.parsing import OutputMap

    failed = list(getattr(_local, "failed", []))
    reason = (
        f"The following resource(s) failed to create: [{', '.join(failed)}]. " if failed else reason_of(error)
    )
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS", resource_status_reason=reason + "Rollback requested by user."
    )
    left = delete_resources(stack)
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)  # a rolled-back stack has none
    stack.status = "ROLLBACK_FAILED" if left else "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status)


def _roll_back_update(stack: Any, old_template: Any, old_parameters: Any, error: BaseException) -> None:
    failed = list(getattr(_local, "failed", []))
    reason = (
        f"The following resource(s) failed to update: [{', '.join(failed)}]. " if failed else reason_of(error)
    )
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack.template = old_template
    stack._parse_template()
    _local.emitted = set()
    try:
        stack.resource_map.update(stack.template_dict, old_parameters)
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    except Exception as again:
        log.warning("stack %s: rolling the update back failed too: %s", stack.name, again)
        stack.status = "UPDATE_ROLLBACK_FAILED"
    stack.output_map = stack._create_output_map()
    stack._add_stack_event(stack.status)


def _hook_stacks(models: Any) -> None:
    stack_class, change_set, backend = models.Stack, models.ChangeSet, models.CloudFormationBackend
    create_resources, update, apply = stack_class.create_resources, stack_class.update, change_set.apply
    execute, delete_stack = backend.execute_change_set, backend.delete_stack

    def create_resources_hooked(stack: Any) -> None:
        _begin(stack)
        try:
            create_resources(stack)
        except Exception as error:
            log.info("stack %s: create failed (%s); rolling back", stack.name, reason_of(error))
            _roll_back_create(stack, error)
        finally:
            _end()

    def update_hooked(stack: Any, template: str, *args: Any, **kwargs: Any) -> None:
        old_template, old_parameters = stack.template, dict(stack.resource_map.input_parameters or {})
        _begin(stack)
        try:
            update(stack, template, *args, **kwargs)
        except Exception as error:
            log.info("stack %s: update failed (%s); rolling back", stack.name, reason_of(error))
            _roll_back_update(stack, old_template, old_parameters, error)
        finally:
            _end()

    def delete_hooked(stack: Any) -> None:
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        _begin(stack)
        try:
            left = delete_resources(stack)
        finally:
            _end()
        if left:
            stack.status = "DELETE_FAILED"
            reason = f"The following resource(s) failed to delete: [{', '.join(left)}]. "
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
            return
        stack.status = "DELETE_COMPLETE"
        stack._add_stack_event("DELETE_COMPLETE")

    def apply_hooked(change: Any) -> None:
        stack = change.stack
        old_template, old_parameters = stack.template, dict(stack.resource_map.input_parameters or {})
        _begin(stack)
        try:
            apply(change)
        except Exception as error:
            if change.change_set_type == "CREATE":
                _roll_back_create(stack, error)
            else:
                _roll_back_update(stack, old_template, old_parameters, error)
            stack.batchemu_outcome = stack.status
        finally:
            _end()

    def execute_hooked(cloudformation: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute(cloudformation, change_set_name, stack_name)
        for stack in list(cloudformation.stacks.values()):
            outcome = getattr(stack, "batchemu_outcome", None)
            if (
                outcome is not None
            ):  # moto wrote *_COMPLETE after the failed apply: the rollback's result stands
                del stack.batchemu_outcome
                if stack.events and stack.events[-1].resource_status.endswith("_COMPLETE"):
                    stack.events.pop()
                stack.status = outcome

    def delete_stack_hooked(cloudformation: Any, name_or_stack_id: str) -> None:
        delete_stack(cloudformation, name_or_stack_id)
        for stack_id, stack in list(cloudformation.deleted_stacks.items()):
            if stack.status == "DELETE_FAILED":  # AWS keeps a stack it could not delete
                cloudformation.stacks[stack_id] = cloudformation.deleted_stacks.pop(stack_id)

    stack_class.create_resources = create_resources_hooked
    stack_class.update = update_hooked
    stack_class.delete = delete_hooked
    change_set.apply = apply_hooked
    backend.execute_change_set = execute_hooked
    backend.delete_stack = delete_stack_hooked

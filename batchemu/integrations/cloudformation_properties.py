"""CloudFormation's AWS::Batch::* properties (PascalCase) as Batch API requests (camelCase), driven by
botocore's Batch input shapes: a property matches the member whose name is the same but for case
(`MaxvCpus` -> `maxvCpus`, `ComputeEnvironmentOrder[].ComputeEnvironment` -> `computeEnvironment`); map keys
(Tags, Parameters, LogConfiguration.Options) are the user's and stay as written. Scalars are coerced the way
CloudFormation reads a template (`"4"` for an integer, `"true"` for a boolean, `512` for a string)."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

from batchemu.protocol import spec


class PropertyError(Exception):
    """A property CloudFormation's schema validation refuses (the resource fails, the stack rolls back)."""


def to_request(
    logical_id: str, properties: dict[str, Any], operation: str, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The wire request of `operation` from a resource's properties; `skip` names CloudFormation-only
    top-level properties that the caller reads itself (they are not sent)."""
    shape = spec.operation(operation).input_shape
    kept = {key: value for key, value in properties.items() if key not in skip}
    return _structure(logical_id, kept, shape, "#")


def _structure(logical_id: str, value: Any, shape: Shape, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PropertyError(
            f"Properties validation failed for resource {logical_id} with message: "
            f"{where}: expected type: JSONObject, found: {type(value).__name__}"
        )
    members = {name.lower(): name for name in shape.members}
    result: dict[str, Any] = {}
    for key, item in value.items():
        member = members.get(str(key).lower())
        if member is None:
            raise PropertyError(
                f"Properties validation failed for resource {logical_id} with message: "
                f"{where}: extraneous key [{key}] is not permitted"
            )
        result[member] = _value(logical_id, item, shape.members[member], f"{where}/{key}")
    return result


def _value(logical_id: str, value: Any, shape: Shape, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(logical_id, value, shape, where)
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [_value(logical_id, item, shape.member, f"{where}/{i}") for i, item in enumerate(items)]
    if kind == "map":
        if not isinstance(value, dict):
            raise PropertyError(
                f"Properties validation failed for resource {logical_id} with message: "
                f"{where}: expected type: JSONObject, found: {type(value).__name__}"
            )
        return {
            str(key): _value(logical_id, item, shape.value, f"{where}/{key}") for key, item in value.items()
        }
    return _scalar(value, kind)


def _scalar(value: Any, kind: str) -> Any:
    """CloudFormation's coercions; anything else is passed on for the API's own validation to refuse."""
    if kind in ("integer", "long") and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value

"""Renders results by the output shape (snake_case in, wire names out) and errors as AWS does:
status, `x-amzn-ErrorType` header and a `{"__type", "message"}` body."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, Shape

from batchemu.errors import ApiError
from batchemu.protocol.spec import members_by_python_name

JSON_CONTENT_TYPE = "application/json"


def serialize_result(operation: OperationModel, result: dict[str, Any]) -> bytes:
    shape = operation.output_shape
    body = _structure(result, shape) if shape is not None else {}
    return json.dumps(body, separators=(",", ":")).encode()


def serialize_error(error: ApiError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    body = {"__type": error.code, "message": error.message_for(request_id)}
    headers = {"x-amzn-ErrorType": error.code, "Content-Type": JSON_CONTENT_TYPE}
    return error.status, headers, json.dumps(body).encode()


def to_wire(value: Any, shape: Shape) -> Any:
    """A snake_case value rendered by `shape`: members renamed, unknown members and None dropped."""
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape)
    if kind == "list":
        return [to_wire(item, shape.member) for item in value]
    if kind == "map":
        return {key: to_wire(item, shape.value) for key, item in value.items()}
    return value


def _structure(value: dict[str, Any], shape: Shape) -> dict[str, Any]:
    members = members_by_python_name(shape)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None or key not in members:
            continue
        wire_name, member = members[key]
        out[wire_name] = to_wire(item, member)
    return out

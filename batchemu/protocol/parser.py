"""Turns an HTTP request's path parameters, query string and JSON body into the operation's wire params."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel

from batchemu.errors import ClientException

# SubmitJob is limited to 30 KiB and RegisterJobDefinition to 24 KiB by AWS; no Batch request is
# legitimately larger than this, so larger bodies are refused before they are parsed.
MAX_BODY_BYTES = 1024 * 1024


class SerializationException(ClientException):
    """The body is not a JSON object; AWS answers this with a 400 SerializationException."""

    code = "SerializationException"


def parse_request(
    operation: OperationModel,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: bytes,
) -> dict[str, Any]:
    """The request's members by their wire names, as botocore would have sent them."""
    params = _parse_body(body)
    shape = operation.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in path_params:
            params[name] = path_params[wire_name]
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            params[name] = list(values) if member.type_name == "list" else values[-1]
    return params


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON: a NaN in a float member would be
    # stored and echoed back as a response botocore cannot parse.
    raise ValueError(f"{name} is not a JSON value")


def _parse_body(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise ClientException(f"Request body of {len(body)} bytes exceeds the {MAX_BODY_BYTES} byte limit")
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise SerializationException(f"Request body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise SerializationException("Request body must be a JSON object")
    return parsed

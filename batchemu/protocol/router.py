"""Maps (method, path) to a Batch operation, including /v1/tags/{resourceArn} with an encoded ARN."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from batchemu.errors import ClientException
from batchemu.protocol import spec

TAGS_PREFIX = "/v1/tags/"


@dataclass(frozen=True)
class Route:
    operation: str
    path_params: dict[str, str] = field(default_factory=dict)


class UnknownOperation(ClientException):
    """No Batch operation answers this path; AWS answers such requests with a 4xx, never HTML."""

    code = "UnknownOperationException"
    status = 404


class MethodNotAllowed(ClientException):
    code = "MethodNotAllowedException"
    status = 405


@cache
def _table() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(method, lowercase uri) -> operation for fixed paths; method -> operation under /v1/tags/."""
    fixed: dict[tuple[str, str], str] = {}
    tags: dict[str, str] = {}
    for name in spec.operation_names():
        http = spec.operation(name).http
        uri, method = http["requestUri"], http["method"].upper()
        if uri.startswith(TAGS_PREFIX):
            tags[method] = name
        else:
            fixed[(method, uri.lower())] = name
    return fixed, tags


def route(method: str, path: str) -> Route:
    """`path` is the already percent-decoded path; an ARN may hold '/', so everything after
    /v1/tags/ is the ARN."""
    fixed, tags = _table()
    method = method.upper()
    if path.startswith(TAGS_PREFIX):
        resource_arn = path[len(TAGS_PREFIX) :]
        if method not in tags:
            raise MethodNotAllowed(f"Method {method} is not allowed on {TAGS_PREFIX}{{resourceArn}}")
        if not resource_arn:
            raise ClientException("resourceArn must be given in the path /v1/tags/{resourceArn}")
        return Route(tags[method], {"resourceArn": resource_arn})
    key = path.rstrip("/").lower() or "/"
    if (method, key) in fixed:
        return Route(fixed[(method, key)])
    if any(uri == key for (_, uri) in fixed):
        raise MethodNotAllowed(f"Method {method} is not allowed on {path}; Batch operations use POST")
    raise UnknownOperation(f"No Batch operation is served at {method} {path}")

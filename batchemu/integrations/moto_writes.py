"""Which requests to moto change its state, and which of moto's services they change: the edge asks
after each request it sends to moto, so the state store saves that service before the answer goes out.
Standard library only (moto's own dispatcher names the service)."""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

MAX_PEEKED_BYTES = 1024 * 1024  # a query-protocol body whose Action is read; larger ones count as writes
# Operations that only read, by AWS's naming (DescribeX, ListX, GetX, BatchGetItem, Query, Scan,
# FilterLogEvents, HeadObject, ...). Anything else changes state, SQS ReceiveMessage included.
READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "BatchGet",
    "Query",
    "Scan",
    "Filter",
    "Search",
    "Lookup",
    "Head",
    "Select",
    "Validate",
    "Test",
    "Simulate",
    "Estimate",
)
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def operation_of(environ: dict[str, Any]) -> str | None:
    """The operation name of a JSON (X-Amz-Target) or query-protocol (Action) request; None for REST
    requests, whose method says whether they write. Reads a form body and puts it back."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    action = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action")
    if action:
        return action[0]
    if not str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_PEEKED_BYTES:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    found = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
    return found[0] if found else None


def is_write(environ: dict[str, Any]) -> bool:
    operation = operation_of(environ)
    if operation is not None:
        return not operation.startswith(READ_PREFIXES)
    return str(environ.get("REQUEST_METHOD", "GET")).upper() not in READ_METHODS

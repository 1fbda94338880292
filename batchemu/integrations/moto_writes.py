"""Which requests to moto change its state, and what of it they may change: the edge asks before each
request it sends to moto, so the state store saves what changed before the answer goes out (a Scope names
the entries of moto_parts.py's collections a request may change; None: any of its service's). Standard
library only (moto's own dispatcher names the service)."""

from __future__ import annotations

import io
import json
import urllib.parse
from dataclasses import dataclass
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
    body = peek_body(environ)
    if body is None:
        return None
    found = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
    return found[0] if found else None


def is_write(environ: dict[str, Any]) -> bool:
    operation = operation_of(environ)
    if operation is not None:
        return not operation.startswith(READ_PREFIXES)
    return str(environ.get("REQUEST_METHOD", "GET")).upper() not in READ_METHODS


@dataclass(frozen=True)
class Scope:
    """What a write may change besides its service's shell and the changes moto_parts tracks by itself
    (S3 keys set or dropped, log events appended): DynamoDB items as (table, key attributes), S3's
    pending multipart uploads, S3's tags."""

    items: tuple[tuple[str, dict[str, Any]], ...] = ()
    uploads: bool = False
    tags: bool = False


# S3 requests that change an object in place (its ACL, retention, legal hold, restore) rather than
# setting or dropping it: every object may have changed (the bucket or key is not read from the URL).
S3_IN_PLACE = frozenset({"acl", "retention", "legal-hold", "restore", "select", "renameObject"})
# DynamoDB operations that change tables but never an existing item.
DYNAMODB_TABLE_WRITES = frozenset(
    {
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "TagResource",
        "UntagResource",
        "UpdateTimeToLive",
        "UpdateContinuousBackups",
        "CreateBackup",
        "DeleteBackup",
        "RestoreTableFromBackup",
        "RestoreTableToPointInTime",
        "CreateGlobalTable",
        "UpdateGlobalTable",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
        "EnableKinesisStreamingDestination",
        "DisableKinesisStreamingDestination",
        "UpdateKinesisStreamingDestination",
        "ImportTable",
        "ExportTableToPointInTime",
    }
)


def scope_of(service: str | None, environ: dict[str, Any]) -> Scope | None:
    """What a write request may change (see Scope); None when it may change anything of its service."""
    if service == "s3":
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        if S3_IN_PLACE & set(query):
            return None
        return Scope(uploads="uploads" in query or "uploadId" in query, tags="tagging" in query)
    if service == "dynamodb":
        return _dynamodb_scope(environ)
    return None


def _dynamodb_scope(environ: dict[str, Any]) -> Scope | None:
    operation = operation_of(environ)
    if operation in DYNAMODB_TABLE_WRITES:
        return Scope()
    if operation not in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
        return None
    request = _peek_json(environ)
    if not isinstance(request, dict):
        return None
    try:
        return Scope(items=tuple(_named_items(operation, request)))
    except (AttributeError, KeyError, TypeError):
        return None  # moto refuses it; whatever it did, a save of everything covers it


def _named_items(operation: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if operation == "PutItem":
        return [(request["TableName"], request["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], request["Key"])]
    named: list[tuple[str, dict[str, Any]]] = []
    if operation == "BatchWriteItem":
        for table, writes in request["RequestItems"].items():
            for write in writes:
                put, delete = write.get("PutRequest"), write.get("DeleteRequest")
                named.append((table, put["Item"] if put else delete["Key"]))
        return named
    for item in request["TransactItems"]:
        for kind, field in (("Put", "Item"), ("Update", "Key"), ("Delete", "Key")):
            if kind in item:
                named.append((item[kind]["TableName"], item[kind][field]))
    return named


def peek_body(environ: dict[str, Any], limit: int = MAX_PEEKED_BYTES) -> bytes | None:
    """A request's body, put back for the app to read; None when empty or larger than `limit` bytes."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= limit:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _peek_json(environ: dict[str, Any]) -> Any:
    """The JSON body of a request (put back for the app to read); None when larger than MAX_PEEKED_BYTES
    or not JSON."""
    body = peek_body(environ)
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None

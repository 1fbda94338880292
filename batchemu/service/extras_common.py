"""Shared helpers for the newer operation families (consumable resources, service environments, service
jobs, quota shares): record lookup in `backend.extras`, names, pagination tokens, filters, client tokens.
Imports domain, errors and arns only."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from batchemu.domain.models import JobQueue
from batchemu.domain.store import Backend
from batchemu.errors import ClientException, invalid_request

Record = dict[str, Any]

CONSUMABLE_RESOURCE = "consumable-resource"
SERVICE_ENVIRONMENT = "service-environment"
SERVICE_JOB = "service-job"
QUOTA_SHARE = "quota-share"

NAME_PATTERN = re.compile(r"^[0-9a-zA-Z][0-9a-zA-Z_\-]{0,127}$")
DEFAULT_PAGE = 100
MAX_PAGE = 100
# AWS documents client tokens as valid for 8 hours.
CLIENT_TOKEN_TTL_MS = 8 * 60 * 60 * 1000


def records(backend: Backend, kind: str) -> dict[str, Record]:
    """The records of one kind, keyed by name (by id for service jobs); created on first use."""
    return backend.extras.setdefault(kind, {})


def check_name(name: str, what: str) -> None:
    if not NAME_PATTERN.match(name):
        raise invalid_request(
            f"{what} name {name} is not valid: it must be 1-128 letters, numbers, hyphens and underscores, "
            "starting with a letter or number"
        )


def name_from_reference(reference: str, kind: str, backend: Backend) -> str | None:
    """The name in a name-or-ARN reference to a `kind` resource, or None when the ARN is for another
    kind, account or region."""
    if not reference.startswith("arn:"):
        return reference
    prefix = f"arn:aws:batch:{backend.region}:{backend.account}:{kind}/"
    if not reference.startswith(prefix):
        return None
    return reference[len(prefix) :]


def find_record(backend: Backend, kind: str, reference: str) -> Record | None:
    name = name_from_reference(reference, kind, backend)
    return None if name is None else records(backend, kind).get(name)


def require_job_queue(backend: Backend, reference: str) -> JobQueue:
    queue = backend.find_job_queue(reference)
    if queue is None:
        raise ClientException(f"JobQueue {reference} not found.")
    return queue


def tags_of(request: dict[str, Any]) -> dict[str, str]:
    tags = dict(request.get("tags") or {})
    reserved = sorted(key for key in tags if key.lower().startswith("aws:"))
    if reserved:
        raise invalid_request(f"Tag keys starting with aws: are reserved: {', '.join(reserved)}")
    return tags


# -- pagination --------------------------------------------------------------------------------------
def page(items: Sequence[Any], request: dict[str, Any], operation: str) -> tuple[list[Any], str | None]:
    """One page of `items` by maxResults/nextToken, and the token for the next page (None on the last)."""
    limit = request.get("max_results")
    if limit is None:
        limit = DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise invalid_request(f"maxResults must be between 1 and {MAX_PAGE}, got {limit}")
    start = _offset(request.get("next_token"), operation)
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, _token(operation, start + limit) if more else None


def _token(operation: str, offset: int) -> str:
    raw = json.dumps({"op": operation, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _offset(token: str | None, operation: str) -> int:
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
        valid = data["op"] == operation and isinstance(offset, int) and offset >= 0
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise invalid_request(f"Invalid nextToken {token}")
    return offset


# -- filters -----------------------------------------------------------------------------------------
def single_filter(
    filters: list[dict[str, Any]] | None, allowed: Sequence[str]
) -> tuple[str, list[str]] | None:
    """The one {name, values} filter a list operation allows, checked against `allowed` names."""
    if not filters:
        return None
    if len(filters) > 1:
        raise invalid_request("Only one filter can be used at a time")
    name = filters[0].get("name")
    values = filters[0].get("values") or []
    if name not in allowed:
        raise invalid_request(f"Invalid filter name {name}; valid names are {', '.join(allowed)}")
    if not values:
        raise invalid_request(f"Filter {name} needs at least one value")
    return str(name), [str(value) for value in values]


def name_matches(name: str, patterns: list[str]) -> bool:
    """AWS's name filters: case-insensitive; a trailing * makes the value a prefix."""
    lowered = name.lower()
    for pattern in patterns:
        wanted = pattern.lower()
        if wanted.endswith("*"):
            if lowered.startswith(wanted[:-1]):
                return True
        elif lowered == wanted:
            return True
    return False


def epoch_ms(value: str, filter_name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise invalid_request(f"The {filter_name} filter takes epoch milliseconds, got {value}") from None


# -- idempotency -------------------------------------------------------------------------------------
def digest(request: dict[str, Any]) -> str:
    """A fingerprint of a request's payload without its clientToken, to spot replays."""
    payload = {key: value for key, value in request.items() if key != "client_token"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

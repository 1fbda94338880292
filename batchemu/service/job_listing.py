"""ListJobs: by queue, array parent or multi-node parent; jobStatus (RUNNING when nothing is asked);
one filter (JOB_NAME, JOB_DEFINITION, BEFORE/AFTER_CREATED_AT, SHARE_IDENTIFIER); newest first (by
submission, which is createdAt order); opaque nextToken holding where the page stopped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from batchemu.domain.models import Job
from batchemu.domain.states import JobStatus
from batchemu.domain.store import Backend
from batchemu.errors import ClientException
from batchemu.service.job_views import job_summary
from batchemu.service.operation import Request, RequestContext, Result

MAX_RESULTS = 1000
MAX_RESULTS_WITH_FILTERS = 100
FILTER_NAMES = ("JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER")


def list_jobs(ctx: RequestContext, request: Request) -> Result:
    backend = ctx.backend
    scopes = [key for key in ("job_queue", "array_job_id", "multi_node_job_id") if request.get(key)]
    if len(scopes) != 1:
        # AWS's text is UNCONFIRMED (docs/compatibility.md).
        raise ClientException("Exactly one of jobQueue, arrayJobId or multiNodeJobId must be specified.")
    filters = request.get("filters") or []
    limit = _limit(request.get("max_results"), bool(filters))
    match = _filter(filters)
    status = request.get("job_status")
    if filters and _filter_name(filters) != "SHARE_IDENTIFIER":
        status = None  # filters make ListJobs ignore jobStatus, except with SHARE_IDENTIFIER
    elif status is None and not filters:
        status = JobStatus.RUNNING.value  # AWS's default, which surprises many
    before = _decode_token(request.get("next_token"))
    scope, value = scopes[0], request[scopes[0]]
    if scope == "job_queue":
        queue = backend.find_job_queue(value)
        if queue is None:
            raise ClientException(f"JobQueue {value} not found.")
        # Array children and nodes are listed only through their parent (UNCONFIRMED for AWS).
        page, more = backend.queue_index.page(queue.arn, status, before, limit, match)
    else:
        page, more = _children_page(backend, scope, value, status, before, limit)
    result: Result = {"job_summary_list": [job_summary(backend, job) for job in page]}
    if more:
        result["next_token"] = _encode_token(page[-1])
    return result


def _children_page(
    backend: Backend, scope: str, parent_id: str, status: str | None, before: int | None, limit: int
) -> tuple[list[Job], bool]:
    """Children of an array job, or nodes of a multi-node job (filters do not apply to them)."""
    parent = backend.jobs.get(parent_id)
    if scope == "array_job_id" and (parent is None or not parent.is_array_parent):
        raise ClientException(f"Job {parent_id} is not an array job.")
    if scope == "multi_node_job_id" and (parent is None or not parent.is_multi_node_parent):
        raise ClientException(f"Job {parent_id} is not a multi-node parallel job.")
    assert parent is not None
    children = (backend.jobs[child] for child in reversed(parent.child_ids) if child in backend.jobs)
    chosen = [
        job
        for job in children
        if (status is None or job.status == status) and (before is None or job.sequence < before)
    ]
    return chosen[:limit], len(chosen) > limit


def _limit(max_results: int | None, has_filters: bool) -> int:
    ceiling = MAX_RESULTS_WITH_FILTERS if has_filters else MAX_RESULTS
    if max_results is None:
        return ceiling
    if not 1 <= max_results <= ceiling:
        raise ClientException(f"maxResults must be between 1 and {ceiling}.")
    return max_results


def _filter_name(filters: list[dict]) -> str:
    return filters[0].get("name", "")


def _filter(filters: list[dict]) -> Callable[[Job], bool]:
    if not filters:
        return lambda job: True
    if len(filters) > 1:
        raise ClientException("Only one filter can be specified.")
    name, values = filters[0].get("name"), filters[0].get("values") or []
    if name not in FILTER_NAMES:
        raise ClientException(f"Filter name {name} is not supported; use one of {', '.join(FILTER_NAMES)}.")
    if len(values) != 1:
        raise ClientException(f"Filter {name} takes exactly one value.")
    value = values[0]
    if name == "JOB_NAME":
        return _glob(value.lower(), lambda job: job.name.lower())
    if name == "JOB_DEFINITION":
        if value.startswith("arn:"):
            return lambda job: job.job_definition_arn == value
        return _glob(value, lambda job: job.job_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0])
    if name == "SHARE_IDENTIFIER":
        return lambda job: job.share_identifier == value
    try:
        moment = int(value)
    except ValueError:
        raise ClientException(f"Filter {name} takes epoch milliseconds, got {value!r}.") from None
    if name == "BEFORE_CREATED_AT":
        return lambda job: job.created_at < moment
    return lambda job: job.created_at > moment


def _glob(pattern: str, field: Callable[[Job], str]) -> Callable[[Job], bool]:
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda job: field(job).startswith(prefix)
    return lambda job: field(job) == pattern


def _encode_token(last: Job) -> str:
    return base64.urlsafe_b64encode(f"before:{last.sequence}".encode()).decode()


def _decode_token(token: str | None) -> int | None:
    """The submission sequence the next page starts below; tokens survive jobs being added meanwhile."""
    if not token:
        return None
    try:
        kind, _, sequence = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "before":
            raise ValueError(kind)
        return int(sequence)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ClientException("The nextToken is not valid.") from None

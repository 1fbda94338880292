"""ListJobs: by queue, array parent or multi-node parent; jobStatus (RUNNING when nothing is asked);
one filter (JOB_NAME, JOB_DEFINITION, BEFORE/AFTER_CREATED_AT, SHARE_IDENTIFIER); newest first; opaque
nextToken."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable

from batchemu.domain.models import Job
from batchemu.domain.states import JobStatus
from batchemu.domain.store import Backend
from batchemu.errors import ClientException
from batchemu.service.dispatch import Request, RequestContext, Result
from batchemu.service.job_views import job_summary

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
    candidates = _scope(backend, scopes[0], request[scopes[0]])
    jobs = [job for job in candidates if (status is None or job.status == status) and match(job)]
    jobs.sort(key=lambda job: (-job.created_at, -job.sequence))
    start = _decode_token(request.get("next_token"), jobs)
    page = jobs[start : start + limit]
    result: Result = {"job_summary_list": [job_summary(backend, job) for job in page]}
    if start + limit < len(jobs):
        result["next_token"] = _encode_token(page[-1])
    return result


def _scope(backend: Backend, scope: str, value: str) -> Iterable[Job]:
    if scope == "job_queue":
        queue = backend.find_job_queue(value)
        if queue is None:
            raise ClientException(f"JobQueue {value} not found.")
        # Array children are listed only through arrayJobId (UNCONFIRMED for AWS; docs/compatibility.md).
        return (
            job
            for job in backend.jobs.values()
            if job.job_queue_arn == queue.arn and job.array_index is None and job.node_index is None
        )
    parent = backend.jobs.get(value)
    if scope == "array_job_id":
        if parent is None or not parent.is_array_parent:
            raise ClientException(f"Job {value} is not an array job.")
        return (backend.jobs[child] for child in parent.child_ids if child in backend.jobs)
    if parent is None or not parent.is_multi_node_parent:
        raise ClientException(f"Job {value} is not a multi-node parallel job.")
    return (backend.jobs[node] for node in parent.child_ids if node in backend.jobs)


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
    return base64.urlsafe_b64encode(f"{last.created_at}|{last.sequence}".encode()).decode()


def _decode_token(token: str | None, jobs: list[Job]) -> int:
    """The index after the job the token names; tokens survive jobs being added meanwhile."""
    if not token:
        return 0
    try:
        created, _, sequence = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        key = (-int(created), -int(sequence))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ClientException("The nextToken is not valid.") from None
    for index, job in enumerate(jobs):
        if (-job.created_at, -job.sequence) > key:
            return index
    return len(jobs)

"""The bulk job operations (CancelJobs, TerminateJobs, TerminateServiceJobs): up to 50 jobs, each handled
as its single-job operation would, reported one by one in `successful` and `errors`; a job that cannot be
found counts as done, as AWS documents."""

from __future__ import annotations

from batchemu.errors import ClientException, NotFound
from batchemu.service.operation import Handler, Request, RequestContext, Result

MAX_JOBS = 50


def bulk(single: Handler) -> Handler:
    """A handler taking {jobs, reason} that calls `single` with {job_id, reason} for each job."""

    def handler(ctx: RequestContext, request: Request) -> Result:
        jobs = request["jobs"]
        if not 1 <= len(jobs) <= MAX_JOBS:
            raise ClientException(f"jobs must list between 1 and {MAX_JOBS} job IDs, got {len(jobs)}.")
        successful: list[str] = []
        errors: list[dict[str, str]] = []
        for job_id in jobs:
            try:
                single(ctx, {"job_id": job_id, "reason": request["reason"]})
            except NotFound:
                pass
            except ClientException as error:
                errors.append({"job": job_id, "code": error.code, "message": error.message})
                continue
            successful.append(job_id)
        return {"successful": successful, "errors": errors}

    handler.__name__ = f"bulk_{getattr(single, '__name__', 'operation')}"
    return handler

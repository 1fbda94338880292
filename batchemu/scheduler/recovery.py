"""After a restart: jobs saved as STARTING or RUNNING are re-attached to their container when the runner
can find it (its exit and logs are then recorded as usual); work that cannot be found fails with AWS's
host-terminated reason and is retried by the job's retry strategy."""

from __future__ import annotations

import logging
import uuid

from batchemu.domain import retry, tasks
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend, Store
from batchemu.runners.base import Runner

log = logging.getLogger("batchemu.recovery")
HOST_TERMINATED = "Host EC2 (instance {instance}) terminated."


def reconcile(store: Store, runner: Runner, now: int) -> list[tuple[Backend, Job]]:
    """Returns the jobs re-attached to live work."""
    reattached = []
    find_running = getattr(runner, "find_running", None)
    with store.lock:
        for backend in store.backends():
            for status in ("STARTING", "RUNNING"):
                for job in list(backend.jobs_by_status[status].values()):
                    attempt = job.current_attempt
                    if job.is_multi_node_parent or attempt is None:
                        continue
                    # a multi-container task is not re-attached (docs/compatibility.md): its work is lost
                    is_task = tasks.runs_as_task(job)
                    handle = (
                        find_running(job.id, attempt.number)
                        if find_running is not None and not is_task
                        else None
                    )
                    if handle is not None:
                        attempt.run_handle = handle
                        reattached.append((backend, job))
                        log.info("re-attached job %s attempt %d", job.id, attempt.number)
                    else:
                        _host_terminated(backend, job, now)
    return reattached


def _host_terminated(backend: Backend, job: Job, now: int) -> None:
    reason = HOST_TERMINATED.format(instance="i-" + uuid.uuid4().hex[:17])
    again = retry.should_retry(job.retry_strategy, job.attempt_count, reason, None, None)
    if job.status == "RUNNING":
        event = JobEvent.EXITED_RETRY if again else JobEvent.EXITED_FAILURE
    else:
        event = JobEvent.START_FAILED_RETRY if again else JobEvent.START_FAILED
    log.warning("job %s lost its work in a restart: %s", job.id, reason)
    backend.move(job, event, now, reason=reason)

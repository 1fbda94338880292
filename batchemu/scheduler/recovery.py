"""After a restart: jobs saved as STARTING or RUNNING are re-attached to their container when the runner
can find it (its exit and logs are then recorded as usual); work that cannot be found fails with AWS's
host-terminated reason and is retried by the job's retry strategy."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from batchemu.domain import retry, tasks
from batchemu.domain.models import Job
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend, Store
from batchemu.runners.base import Runner, TaskSpec

log = logging.getLogger("batchemu.recovery")
HOST_TERMINATED = "Host EC2 (instance {instance}) terminated."


def reconcile(
    store: Store, runner: Runner, now: int, task_of: Callable[[Backend, Job], TaskSpec | None] | None = None
) -> list[tuple[Backend, Job]]:
    """Returns the jobs re-attached to live work. A multi-container job is re-attached when the runner
    finds every container of its task (`task_of` gives the task's spec, find_task finds it)."""
    reattached = []
    find_running = getattr(runner, "find_running", None)
    find_task = getattr(runner, "find_task", None)
    with store.lock:
        for backend in store.backends():
            for status in ("STARTING", "RUNNING"):
                for job in list(backend.jobs_by_status[status].values()):
                    attempt = job.current_attempt
                    if job.is_multi_node_parent or attempt is None:
                        continue
                    if tasks.runs_as_task(job):
                        spec = task_of(backend, job) if task_of is not None and find_task else None
                        handle = find_task(spec) if spec is not None and find_task else None
                    else:
                        handle = find_running(job.id, attempt.number) if find_running is not None else None
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

"""Compute environments and job queues settle: CREATING/UPDATING -> VALID, DELETING -> gone."""

from __future__ import annotations

from batchemu.domain.store import Backend

CE_HEALTHY = "ComputeEnvironment Healthy"
JQ_HEALTHY = "JobQueue Healthy"


def settle(backend: Backend, now: float) -> bool:
    changed = False
    for name, environment in list(backend.compute_environments.items()):
        if environment.status in ("CREATING", "UPDATING"):
            environment.status, environment.status_reason = "VALID", CE_HEALTHY
            environment.status_changed_at = now
            changed = True
        elif environment.status == "DELETING":
            del backend.compute_environments[name]
            changed = True
    for name, queue in list(backend.job_queues.items()):
        if queue.status in ("CREATING", "UPDATING"):
            queue.status, queue.status_reason = "VALID", JQ_HEALTHY
            queue.status_changed_at = now
            changed = True
        elif queue.status == "DELETING":
            del backend.job_queues[name]
            changed = True
    return changed

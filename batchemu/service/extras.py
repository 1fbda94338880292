"""The newer operation families: consumable resources, service environments, service jobs and quota
shares (one module each), their HANDLERS, and settle_extras() for the scheduler tick. Their records are
plain snake_case dicts in backend.extras[kind][key], each with "arn" and "tags"."""

from __future__ import annotations

from batchemu.clock import to_millis
from batchemu.domain.store import Backend
from batchemu.service import consumable_resources, quota_shares, service_environments, service_jobs
from batchemu.service.extras_common import CONSUMABLE_RESOURCE, records
from batchemu.service.operation import Handler

HANDLERS: dict[str, Handler] = {
    **consumable_resources.HANDLERS,
    **service_environments.HANDLERS,
    **service_jobs.HANDLERS,
    **quota_shares.HANDLERS,
}


def settle_extras(backend: Backend, now: float) -> bool:
    """One scheduler step for the extras (`now` in epoch seconds, as Scheduler.tick gets it): service
    environments and quota shares CREATING/UPDATING -> VALID and DELETING -> gone, service jobs
    SUBMITTED -> RUNNABLE (or FAILED when their queue or quota share went away), and consumption of
    NON_REPLENISHABLE consumable resources by started jobs. True when anything changed."""
    if not any(backend.extras.values()):
        return False  # none of these records exists (the usual tick): nothing to settle
    now_ms = to_millis(now)
    changed = service_environments.settle(backend, now_ms)
    changed |= quota_shares.settle(backend, now_ms)
    changed |= service_jobs.settle(backend, now_ms)
    for record in records(backend, CONSUMABLE_RESOURCE).values():
        changed |= consumable_resources.absorb_consumption(backend, record)
    return changed

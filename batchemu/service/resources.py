"""Handlers for compute environments, job queues, job definitions, scheduling policies and tags, collected
from their modules into one table."""

from __future__ import annotations

from batchemu.service import compute_environments, job_definitions, job_queues, scheduling_policies, tags
from batchemu.service.operation import Handler

HANDLERS: dict[str, Handler] = {
    **compute_environments.HANDLERS,
    **job_queues.HANDLERS,
    **job_definitions.HANDLERS,
    **scheduling_policies.HANDLERS,
    **tags.HANDLERS,
}

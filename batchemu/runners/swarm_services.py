"""Calls on one swarm service beyond making and removing it: stopping its job task (swarm then applies the
task's stop signal and grace period), waiting for that task to end, and the node swarm put it on. Run on
the swarm runner's pool threads, never the scheduler's. Imports runners.swarm_state only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from batchemu.runners.swarm_state import LIVE_TASK_STATES

log = logging.getLogger("batchemu.runners.swarm")

_NO_COMPLETIONS = {"ReplicatedJob": {"MaxConcurrent": 0, "TotalCompletions": 0}}
_PAUSE_SECONDS = 0.25


def stop_job_task(api: Any, service_id: str) -> None:
    """No completions left to run: swarm stops the job's task (its stop signal, then SIGKILL after its
    grace period). Removing the service alone leaves a job's container running before Docker 24
    (moby/moby#44312)."""
    try:
        service = api.inspect_service(service_id)
        # not through the SDK's update_service(): merging the current spec adds an UpdateConfig, which
        # swarm refuses for jobs
        response = api._post_json(
            api._url("/services/{0}/update", service_id),
            data={**service["Spec"], "Mode": _NO_COMPLETIONS},
            params={"version": service["Version"]["Index"]},
        )
        api._raise_for_status(response)
    except NotFound:
        pass
    except (APIError, DockerException) as error:
        log.warning("could not stop the task of service %s: %s", service_id, error)


def wait_for_task_end(
    api: Any, service_id: str, seconds: float, closing: threading.Event, meanwhile: Callable[[], None]
) -> None:
    """Until the service's task no longer runs (or `seconds` pass), calling `meanwhile` (a log read)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not closing.is_set():
        try:
            tasks = api.tasks(filters={"service": service_id})
            meanwhile()
        except Exception:  # the service or its task is gone
            return
        if not any(task.get("Status", {}).get("State") in LIVE_TASK_STATES for task in tasks):
            return
        closing.wait(_PAUSE_SECONDS)


def node_of_service(api: Any, service_id: str, seconds: float, closing: threading.Event) -> str | None:
    """The node swarm put the service's task on, waiting up to `seconds` for it to be placed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not closing.is_set():
        try:
            tasks = api.tasks(filters={"service": service_id})
        except NotFound:
            return None
        node_id = next((task.get("NodeID") for task in tasks if task.get("NodeID")), None)
        if node_id:
            return str(node_id)
        closing.wait(0.1)
    return None

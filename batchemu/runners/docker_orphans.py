"""The Docker engine's side of "no orphans": which container this server runs in, and the removal, at
start-up, of job containers whose server is provably gone (the rules are in runners/ownership.py).
Imports runners.ownership and the docker SDK's errors only."""

from __future__ import annotations

import logging
import os
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from batchemu.runners import ownership
from batchemu.runners.ownership import Action, Owner

log = logging.getLogger("batchemu.runners.docker")


def remove_orphans(api: Any, me: Owner, adopted: set[str]) -> int:
    """Removes (or, for kept ones, stops) the batchemu job containers that ownership.action() gives up:
    never `me`'s own, nor `adopted` ones (re-attached from a state directory); returns how many."""
    removed = 0
    for summary in api.containers(all=True, filters={"label": f"{ownership.MANAGED_LABEL}=1"}):
        labels = summary.get("Labels") or {}
        if summary["Id"] in adopted or labels.get(ownership.OWNER_LABEL) == me.instance:
            continue
        status = summary.get("State", "")
        finished_at = ""
        if ownership.OWNER_LABEL not in labels and status in ("exited", "dead"):
            finished_at = (container_state(api, summary["Id"]) or {}).get("FinishedAt", "")
        verdict = ownership.verdict(labels, lambda container_id: container_state(api, container_id))
        what = ownership.action(
            labels, status, finished_at, verdict, me.state_id, state_gone=_state_gone(labels)
        )
        try:
            if what is Action.REMOVE:
                api.remove_container(summary["Id"], v=True, force=True)
                removed += 1
            elif what is Action.KILL and status == "running":
                api.kill(summary["Id"])
        except NotFound:
            pass
        except (APIError, DockerException) as error:
            log.warning("could not remove container %s: %s", summary["Id"][:12], error)
    if removed:
        log.info("removed %d job containers left behind by batchemu servers that are gone", removed)
    return removed


def container_state(api: Any, container_id: str) -> dict[str, Any] | None:
    """The engine's State of a container, None when there is no such container."""
    try:
        state: dict[str, Any] = api.inspect_container(container_id)["State"]
        return state
    except NotFound:
        return None


def own_container(api: Any) -> str | None:
    """This server's own container as "<id>/<StartedAt>", when it runs in one the engine knows."""
    container_id = ownership.own_container_id()
    if container_id is None:
        return None
    try:
        state = container_state(api, container_id)
    except (APIError, DockerException):
        return None
    return f"{container_id}/{state['StartedAt']}" if state else None


def _state_gone(labels: dict[str, str]) -> bool:
    """The state directory a container waits for was on this host and is no longer there."""
    path = labels.get(ownership.STATE_PATH_LABEL)
    return path is not None and ownership.same_host(labels) and not os.path.isdir(path)

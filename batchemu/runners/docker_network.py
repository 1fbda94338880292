"""The network namespace and the emptyDir volumes a multi-container task's containers share on Docker, as an ECS task's or a pod's
do: the first container of the task to start gets the runner's network, each later one joins a container
of the task still running (`network_mode=container:<id>`), so they reach each other on localhost. Host
networking is shared already and left alone. Imports runners.base/ownership only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from batchemu.runners.base import ContainerSpec
from batchemu.runners.ownership import ATTEMPT_LABEL, JOB_ID_LABEL, MANAGED_LABEL

_SHARED_ALREADY = ("host", "none")


@dataclass(eq=False)
class _Task:
    lock: threading.Lock = field(default_factory=threading.Lock)
    container_ids: list[str] = field(default_factory=list)  # in start order
    launching: int = 0


@dataclass
class Join:
    """What one launch uses: its network mode, and where it reports the container it started."""

    network_mode: str
    container_id: str | None = None


class TaskNetworks:
    """Per task (job id, attempt): its containers in start order; launches of one task are serialised, so
    the second container never starts before the first owns the namespace."""

    def __init__(self, network: str) -> None:
        self._network = network
        self._lock = threading.Lock()
        self._tasks: dict[tuple[str, int], _Task] = {}

    @contextmanager
    def joining(self, api: Any, spec: ContainerSpec) -> Iterator[Join]:
        """Holds the task's launch lock while the caller creates and starts the container; the caller sets
        `container_id` on the Join once the container exists."""
        if not spec.in_task or self._network in _SHARED_ALREADY:
            yield Join(self._network)
            return
        key = (spec.job_id, spec.attempt)
        with self._lock:
            task = self._tasks.setdefault(key, _Task())
            task.launching += 1
        try:
            with task.lock:
                join = Join(self._mode(api, task))
                yield join
                if join.container_id is not None:
                    task.container_ids.append(join.container_id)
        finally:
            with self._lock:
                task.launching -= 1

    def forget(self, job_id: str, attempt: int, container_id: str | None) -> None:
        """A container of the task was released; the task is forgotten with its last one."""
        with self._lock:
            task = self._tasks.get((job_id, attempt))
            if task is None:
                return
            if container_id in task.container_ids:
                task.container_ids.remove(container_id)
            if not task.container_ids and not task.launching:
                del self._tasks[(job_id, attempt)]

    def _mode(self, api: Any, task: _Task) -> str:
        """The namespace of the task's first container still running, else a fresh one on the network
        (nothing of the task is running to be reached then)."""
        for container_id in list(task.container_ids):
            try:
                if api.inspect_container(container_id)["State"].get("Running"):
                    return f"container:{container_id}"
            except Exception:  # removed or the engine hiccuped: try the next one
                continue
        return self._network


def has_shared_volumes(spec: ContainerSpec) -> bool:
    return any(volume.get("shared") for volume in spec.volumes)


def remove_task_volumes(api: Any, job_id: str, attempt: int) -> None:
    """Removes the attempt's shared volumes no container uses any more (the engine refuses the others,
    which the release of the task's last container removes)."""
    labels = [f"{MANAGED_LABEL}=1", f"{JOB_ID_LABEL}={job_id}", f"{ATTEMPT_LABEL}={attempt}"]
    try:
        found = api.volumes(filters={"label": labels}).get("Volumes") or []
    except Exception:
        return
    for volume in found:
        try:
            api.remove_volume(volume["Name"])
        except Exception:  # still in use by a container of the task not yet removed
            continue

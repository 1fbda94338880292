"""The attachable overlay networks of a swarm runner, one per key (the parent id of a multi-node parallel
job, whose nodes share one; a multi-container task off the host network, whose containers find each other
by name on one): made on first use, found again after a restart by label, removed after the last service
on them. Imports runners.ownership only."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from batchemu.runners.ownership import JOB_ID_LABEL, MANAGED_LABEL

log = logging.getLogger("batchemu.runners.swarm")

MNP_NETWORK_LABEL = "batchemu.mnp-job-id"
TASK_NETWORK_LABEL = "batchemu.task"
_ADDRESS_WAIT_SECONDS = 20.0
_REMOVE_TRIES = 160  # a quarter of a second apart


class OverlayNetworks:
    """Overlay networks by key, named `<prefix>-<key>` and labelled `<label>=<key>`; safe to call from
    several pool threads."""

    def __init__(self, api: Any, closing: threading.Event, prefix: str, label: str) -> None:
        self._api = api
        self._closing = closing
        self._prefix, self._label = prefix, label
        self._lock = threading.Lock()  # not the runner's: start() takes that on the scheduler's thread
        self._by_key: dict[str, str] = {}

    def network_for(self, key: str) -> str:
        """The id of the network for `key`, made now if neither this runner nor an earlier one has."""
        with self._lock:
            known = self._by_key.get(key)
            if known is not None:
                return known
            found = self.find(key)
            if found is None:
                safe = re.sub(r"[^a-zA-Z0-9-]", "-", key)[:40]
                created = self._api.create_network(
                    f"{self._prefix}-{safe}",
                    driver="overlay",
                    attachable=True,
                    labels={MANAGED_LABEL: "1", self._label: key},
                )
                found = str(created["Id"])
            self._by_key[key] = found
            return found

    def find(self, key: str) -> str | None:
        found = self._api.networks(filters={"label": f"{self._label}={key}"})
        return str(found[0]["Id"]) if found else None

    def forget(self, key: str) -> str | None:
        """The network of `key`, no longer kept; the caller removes it."""
        with self._lock:
            return self._by_key.pop(key, None)

    def forget_all(self) -> list[str]:
        with self._lock:
            known, self._by_key = list(self._by_key.values()), {}
        return known

    def remove(self, network_id: str, tries: int = _REMOVE_TRIES) -> None:
        """After the services using it are gone; their tasks detach a moment later (on a busy swarm, many
        seconds later), so retry for a while."""
        failure: Exception | None = None
        for _ in range(tries):
            try:
                self._api.remove_network(network_id)
                return
            except NotFound:
                return
            except (APIError, DockerException) as error:
                failure = error
                time.sleep(0.25)
        log.warning("could not remove overlay network %s: %s", network_id, failure)

    def task_address(self, job_id: str, network_id: str) -> str | None:
        """The address on `network_id` of the task of `job_id`'s newest service, waiting a while for it
        (on a pool thread, never the scheduler's)."""
        deadline = time.monotonic() + _ADDRESS_WAIT_SECONDS
        while time.monotonic() < deadline and not self._closing.is_set():
            services = self._api.services(filters={"label": f"{JOB_ID_LABEL}={job_id}"})
            services.sort(key=lambda service: service.get("CreatedAt", ""), reverse=True)
            for service in services[:1]:
                for task in self._api.tasks(filters={"service": service["ID"]}):
                    for attachment in task.get("NetworksAttachments") or []:
                        if attachment.get("Network", {}).get("ID") == network_id:
                            addresses = attachment.get("Addresses") or []
                            if addresses:
                                return str(addresses[0]).split("/", 1)[0]
            time.sleep(0.2)
        return None

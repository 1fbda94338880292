"""As in AWS, every compute environment has an ECS cluster (its ecsClusterArn): created in the services
endpoint when the environment appears, before it settles to VALID (this settler runs first, and creates
at once), deleted when it goes (through the outbox: nothing waits for that)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from batchemu.integrations.aws import AwsClients
from batchemu.integrations.outbox import Outbox

log = logging.getLogger("batchemu.ecs")


class EcsClusters:
    def __init__(self, clients: AwsClients, outbox: Outbox) -> None:
        self.clients = clients
        self.outbox = outbox
        self._known: dict[tuple[str, str], set[str]] = {}

    def sync(self, backend: Any, now: float) -> bool:
        """A scheduler settler: compares the backend's environments with the clusters made so far."""
        current = {ce.ecs_cluster_arn for ce in backend.compute_environments.values() if ce.ecs_cluster_arn}
        known = self._known.setdefault((backend.account, backend.region), set())
        ecs = partial(self._ecs, backend.account, backend.region)
        for arn in current - known:
            try:
                _create(ecs, _name(arn))
            except Exception:  # the environment still becomes VALID; ECS is only a mirror of it
                log.exception("could not create the ECS cluster %s", arn)
        for arn in known - current:
            self.outbox.put(partial(_delete, ecs, _name(arn)))
        known.clear()
        known.update(current)
        return False

    def reset(self) -> None:
        self._known.clear()

    def _ecs(self, account: str, region: str) -> Any:
        return self.clients.client("ecs", account, region)


def _create(ecs: Callable[[], Any], name: str) -> None:
    ecs().create_cluster(clusterName=name)


def _delete(ecs: Callable[[], Any], name: str) -> None:
    ecs().delete_cluster(cluster=name)


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]

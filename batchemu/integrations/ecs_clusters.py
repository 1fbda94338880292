"""As in AWS, every compute environment has an ECS cluster (its ecsClusterArn): created in the services
endpoint when the environment appears, deleted when it goes."""

from __future__ import annotations

from typing import Any

from batchemu.integrations.aws import AwsClients
from batchemu.integrations.outbox import Outbox


class EcsClusters:
    def __init__(self, clients: AwsClients, outbox: Outbox) -> None:
        self.clients = clients
        self.outbox = outbox
        self._known: dict[tuple[str, str], set[str]] = {}

    def sync(self, backend: Any, now: float) -> bool:
        """A scheduler settler: compares the backend's environments with the clusters made so far."""
        current = {ce.ecs_cluster_arn for ce in backend.compute_environments.values() if ce.ecs_cluster_arn}
        known = self._known.setdefault((backend.account, backend.region), set())
        for arn in current - known:
            self.outbox.put(lambda arn=arn: self._ecs(backend).create_cluster(clusterName=_name(arn)))
        for arn in known - current:
            self.outbox.put(lambda arn=arn: self._ecs(backend).delete_cluster(cluster=_name(arn)))
        known.clear()
        known.update(current)
        return False

    def reset(self) -> None:
        self._known.clear()

    def _ecs(self, backend: Any) -> Any:
        return self.clients.client("ecs", backend.account, backend.region)


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]

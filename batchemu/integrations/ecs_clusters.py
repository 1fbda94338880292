"""As in AWS, every compute environment has an ECS cluster (its ecsClusterArn), deleted when the environment
goes (through the outbox: nothing waits for that). Where the clusters live in this process's moto and are
read only through this endpoint, one is created when ECS is first asked anything after its environment
appears (`materialise`, called before every ECS request): loading moto's ECS (and its EC2) costs a user who
never asks ECS a second. Otherwise (--aws-endpoint, moto's mock_aws) it is created when the environment
appears, before it settles to VALID (this settler runs first)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from batchemu.integrations.aws import AwsClients
from batchemu.integrations.outbox import Outbox

log = logging.getLogger("batchemu.ecs")
Place = tuple[str, str]  # account, region


class EcsClusters:
    def __init__(self, clients: AwsClients, outbox: Outbox, lazy: Callable[[], bool] = lambda: False) -> None:
        self.clients = clients
        self.outbox = outbox
        self.lazy = lazy
        self._wanted: dict[Place, set[str]] = {}  # the clusters of the environments there are
        self._made: dict[Place, set[str]] = {}
        self._lock = threading.Lock()

    def sync(self, backend: Any, now: float) -> bool:
        """A scheduler settler: compares the backend's environments with the clusters wanted so far."""
        place = (backend.account, backend.region)
        current = {ce.ecs_cluster_arn for ce in backend.compute_environments.values() if ce.ecs_cluster_arn}
        made = self._made.get(place)
        if current == self._wanted.get(place) and made is not None and made <= current:
            if made == current or self.lazy():
                return False  # nothing new, nothing gone, nothing to make now: the usual tick
        with self._lock:
            self._wanted[place] = current
            made = self._made.setdefault(place, set())
            gone, made_now = made - current, set() if self.lazy() else current - made
            made -= gone
            made |= made_now
        ecs = partial(self._ecs, *place)
        for arn in made_now:
            try:
                _create(ecs, _name(arn))
            except Exception:  # the environment still becomes VALID; ECS is only a mirror of it
                log.exception("could not create the ECS cluster %s", arn)
        for arn in gone:
            self.outbox.put(partial(_delete, ecs, _name(arn)))
        return False

    def materialise(self) -> None:
        """Creates, in this process's moto, the clusters wanted and not made yet; before an ECS request."""
        if not any(self._wanted.values()):
            return
        with self._lock:  # held while creating: a concurrent ECS request waits for the clusters
            for place, wanted in self._wanted.items():
                made = self._made.setdefault(place, set())
                for arn in sorted(wanted - made):
                    try:
                        _create_in_moto(*place, _name(arn))
                    except Exception:
                        log.exception("could not create the ECS cluster %s", arn)
                    made.add(arn)

    def reset(self) -> None:
        with self._lock:
            self._wanted.clear()
            self._made.clear()

    def _ecs(self, account: str, region: str) -> Any:
        return self.clients.client("ecs", account, region)


def _create(ecs: Callable[[], Any], name: str) -> None:
    ecs().create_cluster(clusterName=name)


def _create_in_moto(account: str, region: str, name: str) -> None:
    """What moto's server does for CreateCluster, without the HTTP round trip to ourselves."""
    from moto.ecs.models import ecs_backends

    ecs_backends[account][region].create_cluster(cluster_name=name)


def _delete(ecs: Callable[[], Any], name: str) -> None:
    ecs().delete_cluster(cluster=name)


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]

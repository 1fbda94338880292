"""The container instances of MANAGED EC2/SPOT compute environments as the state store saves them (plain
JSON values) and back; persistence.py writes them in the same transaction as the jobs."""

from __future__ import annotations

import logging
from typing import Any

from batchemu.domain.instance_types import catalogue
from batchemu.scheduler.instances import Fleets, Instance

log = logging.getLogger("batchemu.persistence")
VERSION = 1


def snapshot(fleets: Fleets) -> list[Any]:
    """What is saved, as tuples (cheap to compare on every save)."""
    return [
        (
            arn,
            fleet.desired_written,
            [
                (
                    i.instance_id,
                    i.container_instance_arn,
                    i.instance_type.name,
                    i.spot,
                    i.launched_at,
                    i.idle_since,
                )
                for i in fleet.instances.values()
            ],
        )
        for arn, fleet in fleets.fleets.items()
    ]


def encode(saved: list[Any]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "fleets": [
            {
                "environment_arn": arn,
                "desired_written": desired_written,
                "instances": [dict(zip(_FIELDS, row, strict=True)) for row in instances],
            }
            for arn, desired_written, instances in saved
        ],
    }


_FIELDS = ("instance_id", "container_instance_arn", "instance_type", "spot", "launched_at", "idle_since")


def restore(fleets: Fleets, data: dict[str, Any], now: int) -> int:
    """Puts the saved instances back into `fleets`; returns how many. Every instance is read first (a bad
    entry refuses them all: ValueError); a type the catalogue no longer has is left out with a warning;
    an idle time after `now` (a clock that went back) becomes `now`."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"instances of format {data.get('version') if isinstance(data, dict) else None!r}")
    try:
        found = _decode(data, now)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a valid instance list ({type(error).__name__}: {error})") from None
    for instance, desired_written in found:
        fleets.restore(instance, desired_written)
    return len(found)


def _decode(data: dict[str, Any], now: int) -> list[tuple[Instance, int | None]]:
    types = catalogue().types
    found = []
    for fleet in data["fleets"]:
        arn = str(fleet["environment_arn"])
        desired = fleet.get("desired_written")
        for item in fleet["instances"]:
            kind = types.get(item["instance_type"])
            if kind is None:
                log.warning(
                    "saved instance %s has an unknown type %s; left out",
                    item["instance_id"],
                    item["instance_type"],
                )
                continue
            idle_since = item.get("idle_since")
            instance = Instance(
                instance_id=str(item["instance_id"]),
                container_instance_arn=str(item["container_instance_arn"]),
                instance_type=kind,
                compute_environment_arn=arn,
                spot=bool(item["spot"]),
                launched_at=int(item["launched_at"]),
                idle_since=None if idle_since is None else min(int(idle_since), now),
            )
            found.append((instance, None if desired is None else int(desired)))
    return found

"""Build and parse ARNs and ids for every Batch resource kind."""

from __future__ import annotations

import os
import random
import re
import uuid
from dataclasses import dataclass

RESOURCE_KINDS = (
    "compute-environment",
    "job-queue",
    "job-definition",
    "job",
    "scheduling-policy",
    "consumable-resource",
    "service-environment",
    "service-job",
    "quota-share",
)

_ARN = re.compile(r"^arn:aws[a-z-]*:batch:([a-z0-9-]+):(\d{12}):([a-z-]+)/(.+)$")


@dataclass(frozen=True)
class Arn:
    region: str
    account: str
    kind: str
    resource: str

    def __str__(self) -> str:
        return f"arn:aws:batch:{self.region}:{self.account}:{self.kind}/{self.resource}"


def build(region: str, account: str, kind: str, resource: str) -> str:
    return f"arn:aws:batch:{region}:{account}:{kind}/{resource}"


def parse(value: str) -> Arn | None:
    """The parts of a Batch ARN, or None when `value` is not one."""
    match = _ARN.match(value)
    if not match or match.group(3) not in RESOURCE_KINDS:
        return None
    return Arn(match.group(1), match.group(2), match.group(3), match.group(4))


# Ids must be unique, not secret: a generator seeded once from the OS costs less than a system call per id
# (an array makes 10^5 task ids).
_IDS = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(32)))  # a forked child draws its own ids
# UUID version 4: the version nibble 4 and the RFC 4122 variant bits 10, as uuid.UUID(version=4) sets them.
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    """Job ids are lowercase UUID4s in AWS (and request ids here): uuid.uuid4()'s bits, from a generator
    seeded once (no system call and no UUID object per id)."""
    text = f"{(_IDS.getrandbits(128) & _UUID4_KEEP) | _UUID4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_task_id() -> str:
    """Modern ECS task ids are 32 hex characters."""
    return f"{_IDS.getrandbits(128):032x}"


def ecs_cluster_arn(region: str, account: str, compute_environment_name: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:cluster/{compute_environment_name}_Batch_{uuid.uuid4()}"


def ecs_task_arn(region: str, account: str, cluster_arn: str, task_id: str) -> str:
    cluster = cluster_arn.rsplit("/", 1)[-1]
    return f"arn:aws:ecs:{region}:{account}:task/{cluster}/{task_id}"


def container_instance_arn(region: str, account: str, cluster_arn: str) -> str:
    cluster = cluster_arn.rsplit("/", 1)[-1]
    return f"arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{uuid.uuid4().hex}"

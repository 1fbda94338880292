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


def new_id() -> str:
    """Job ids are lowercase UUID4s in AWS."""
    return str(uuid.uuid4())


# Task ids must be unique, not secret: a generator seeded once from the OS costs less than a system call per
# id (an array makes 10^5 of them).
_TASK_IDS = random.Random(os.urandom(32))


def new_task_id() -> str:
    """Modern ECS task ids are 32 hex characters."""
    return f"{_TASK_IDS.getrandbits(128):032x}"


def ecs_cluster_arn(region: str, account: str, compute_environment_name: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:cluster/{compute_environment_name}_Batch_{uuid.uuid4()}"


def ecs_task_arn(region: str, account: str, cluster_arn: str, task_id: str) -> str:
    cluster = cluster_arn.rsplit("/", 1)[-1]
    return f"arn:aws:ecs:{region}:{account}:task/{cluster}/{task_id}"


def container_instance_arn(region: str, account: str, cluster_arn: str) -> str:
    cluster = cluster_arn.rsplit("/", 1)[-1]
    return f"arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{uuid.uuid4().hex}"

"""The EC2 instance catalogue (batchemu/data/ec2-instance-types.json): vCPUs, memory and GPUs per type,
what a compute environment's `instanceTypes` (types, families, `optimal`, `default_x86_64`,
`default_arm64`) resolve to, and the memory ECS registers for jobs on an instance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from batchemu.errors import invalid_request

# AWS's "Compute resource memory management" page (docs.aws.amazon.com/batch/latest/userguide/
# memory-management.html): an m4.large has 8 GiB installed but the OS reports 8,373,026,816 bytes, so
# 7,985 MiB are there for jobs, and the Batch AMI reserves 32 MiB more for the ECS agent
# (ecs-reserved-memory.html). Every type is scaled by the same 7985/8192.
_REGISTERED_FRACTION = 7985 / 8192
_RESERVED_MIB = 32


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int  # installed
    gpus: int
    arch: str

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def registered_memory_mib(self) -> int:
        """What the ECS agent registers, and so what jobs on one instance may ask for in all."""
        return int(self.memory_mib * _REGISTERED_FRACTION) - _RESERVED_MIB


@dataclass(frozen=True)
class Catalogue:
    types: dict[str, InstanceType]
    aliases: dict[str, list[str]]

    def families(self) -> set[str]:
        return {t.family for t in self.types.values()}

    def valid_names(self) -> list[str]:
        return sorted({*self.aliases, *self.families(), *self.types})

    def resolve(self, names: list[str]) -> list[InstanceType]:
        """Every concrete type `names` allow, smallest first (the BEST_FIT order)."""
        families: set[str] = set()
        exact: set[str] = set()
        for name in names:
            if name in self.aliases:
                families.update(self.aliases[name])
            elif name in self.types:
                exact.add(name)
            else:
                families.add(name)
        found = [t for t in self.types.values() if t.name in exact or t.family in families]
        return sorted(found, key=lambda t: (t.gpus, t.vcpus, t.memory_mib, t.name))


@cache
def catalogue() -> Catalogue:
    text = resources.files("batchemu").joinpath("data/ec2-instance-types.json").read_text()
    data = json.loads(text)
    types = {
        name: InstanceType(name, spec["vcpus"], spec["memory_mib"], spec["gpus"], spec["arch"])
        for name, spec in data["types"].items()
    }
    return Catalogue(types, {k: list(v) for k, v in data["aliases"].items()})


def check_instance_types(names: list[str] | None) -> None:
    """AWS's refusal of a type it does not know, listing what it knows (its wording, as seen in
    Netflix/metaflow#70 and aws/amazon-genomics-cli#209)."""
    known = catalogue()
    valid = set(known.aliases) | known.families() | set(known.types)
    for name in names or []:
        if name not in valid:
            raise invalid_request(f"Instance type can only be one of [{', '.join(known.valid_names())}]")

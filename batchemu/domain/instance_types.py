"""The EC2 instance catalogue: vCPUs, memory and GPUs per type from moto's DescribeInstanceTypes records,
valid names from botocore's `ec2` model, and batchemu/data/batch-instance-types.json for what neither has
(Batch's aliases, sizes of retired types); what a compute environment's `instanceTypes` resolve to, and the
memory ECS registers for jobs on an instance. The libraries' files are read by path, never imported (the
domain imports the stdlib only), and only when first needed, and then only as much as needed: a compute
environment's types are checked against our file first, and resolving `optimal` reads the records of three
families out of moto's 4 MB file rather than parsing all 1,400 (170 ms) before a first job can start."""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

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
        return family_of(self.name)

    @property
    def registered_memory_mib(self) -> int:
        """What the ECS agent registers, and so what jobs on one instance may ask for in all."""
        return int(self.memory_mib * _REGISTERED_FRACTION) - _RESERVED_MIB


def family_of(name: str) -> str:
    return name.split(".", 1)[0]


@dataclass(frozen=True)
class Catalogue:
    types: dict[str, InstanceType]  # every type whose size is known
    aliases: dict[str, list[str]]
    families: frozenset[str]

    def knows(self, name: str) -> bool:
        """A type, family or alias Batch accepts: those of known size first (no model read), then
        botocore's EC2 `InstanceType` enum and its families."""
        return name in self.aliases or name in self.types or name in self.families or name in ec2_names()

    def valid_names(self) -> list[str]:
        return sorted({*self.aliases, *self.types, *self.families, *ec2_names()})

    def resolve(self, names: list[str]) -> list[InstanceType]:
        """Every concrete type of known size `names` allow, smallest first (the BEST_FIT order)."""
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
    ours = _ours()
    types = dict(ours.types)
    types.update((kind.name, kind) for kind in map(_from_moto, _moto_records()))
    return Catalogue(types, ours.aliases, frozenset(kind.family for kind in types.values()))


@cache
def _ours() -> Catalogue:
    """batchemu/data/batch-instance-types.json alone: Batch's aliases and the sizes of retired types."""
    ours = json.loads(resources.files("batchemu").joinpath("data/batch-instance-types.json").read_text())
    types = {
        name: InstanceType(name, spec["vcpus"], spec["memory_mib"], spec["gpus"], spec["arch"])
        for name, spec in ours["types"].items()
    }
    aliases = {k: list(v) for k, v in ours["aliases"].items()}
    return Catalogue(types, aliases, frozenset(kind.family for kind in types.values()))


def resolve(names: list[str]) -> list[InstanceType]:
    """What catalogue().resolve(names) answers, reading only the families and types `names` need."""
    ours = _ours()
    found: dict[str, InstanceType] = {}
    for name in names:
        if name in ours.aliases or "." not in name:
            for family in ours.aliases.get(name, [name]):
                found.update((kind.name, kind) for kind in _family(family))
        else:
            kind = _one_type(name)
            if kind is not None:
                found[name] = kind
    return sorted(found.values(), key=lambda t: (t.gpus, t.vcpus, t.memory_mib, t.name))


@cache
def _family(family: str) -> tuple[InstanceType, ...]:
    """Every type of `family` of known size (moto's records over ours, as in catalogue())."""
    text = _moto_text()
    if text is None:
        return tuple(kind for kind in catalogue().types.values() if kind.family == family)
    kinds = {name: kind for name, kind in _ours().types.items() if kind.family == family}
    kinds.update((kind.name, kind) for kind in _records_under(text, f'\n "{family}.'))
    return tuple(kinds.values())


def _one_type(name: str) -> InstanceType | None:
    kinds = [kind for kind in _family(family_of(name)) if kind.name == name]
    return kinds[0] if kinds else None


def _records_under(text: str, key_prefix: str) -> list[InstanceType]:
    """The records whose top-level key starts with `key_prefix` (newline, one space, quote, prefix)."""
    decoder = json.JSONDecoder()
    found = []
    at = text.find(key_prefix)
    while at >= 0:
        record, end = decoder.raw_decode(text, text.index("{", at + len(key_prefix)))
        found.append(_from_moto(record))
        at = text.find(key_prefix, end)
    return found


@cache
def _moto_text() -> str | None:
    """moto's records as text, when laid out as _records_under reads them (one top-level key per line,
    indented by one space); else None, and catalogue() parses the whole file."""
    text = gzip.decompress(_moto_path().read_bytes()).decode()
    return text if text.startswith('{\n "') else None


def _from_moto(record: dict[str, Any]) -> InstanceType:
    """One DescribeInstanceTypes record; GPUs are the sum over GpuInfo (Inferentia and Trainium
    accelerators are not GPUs to Batch)."""
    architectures = record["ProcessorInfo"]["SupportedArchitectures"]
    arch = "arm64" if any(a.startswith("arm64") for a in architectures) else "x86_64"
    gpus = sum(gpu.get("Count", 0) for gpu in (record.get("GpuInfo") or {}).get("Gpus", []))
    return InstanceType(
        record["InstanceType"],
        int(record["VCpuInfo"]["DefaultVCpus"]),
        int(record["MemoryInfo"]["SizeInMiB"]),
        gpus,
        arch,
    )


def _moto_records() -> list[dict[str, Any]]:
    return list(json.loads(gzip.decompress(_moto_path().read_bytes())).values())


def _moto_path() -> Path:
    return _library_dir("moto") / "ec2" / "resources" / "instance_types.json.gz"


@cache
def ec2_names() -> frozenset[str]:
    """The types of botocore's newest `ec2` model's `InstanceType` enum, and their families."""
    types = _ec2_type_names()
    return types | {family_of(name) for name in types}


def _ec2_type_names() -> frozenset[str]:
    ec2 = _library_dir("botocore") / "data" / "ec2"
    for version in sorted((p for p in ec2.iterdir() if p.is_dir()), reverse=True):
        for candidate in ("service-2.json.gz", "service-2.json"):
            path = version / candidate
            if path.exists():
                raw = path.read_bytes()
                model = json.loads(gzip.decompress(raw) if candidate.endswith(".gz") else raw)
                return frozenset(model["shapes"]["InstanceType"]["enum"])
    raise FileNotFoundError(f"no ec2 service model under {ec2}")


def _library_dir(name: str) -> Path:
    """An installed package's directory, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed; batchemu reads its data files")
    return Path(next(iter(spec.submodule_search_locations)))


def check_instance_types(names: list[str] | None) -> None:
    """AWS's refusal of a type it does not know, listing what it knows (its wording, as seen in
    Netflix/metaflow#70 and aws/amazon-genomics-cli#209)."""
    ours = _ours()
    for name in names or []:
        if name in ours.aliases or name in ours.types or name in ours.families:
            continue  # known without reading the libraries' files
        known = catalogue()
        if not known.knows(name):
            raise invalid_request(f"Instance type can only be one of [{', '.join(known.valid_names())}]")

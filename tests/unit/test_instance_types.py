"""The EC2 instance catalogue: sizes from moto's records, names from botocore's model, our file only for
what neither has; aliases, registered memory, and AWS's refusal of unknown types."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

import batchemu
from batchemu.domain.instance_types import catalogue, check_instance_types, ec2_names, resolve
from batchemu.errors import ClientException


def _ours() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(
        (Path(batchemu.__file__).parent / "data" / "batch-instance-types.json").read_text()
    )
    return data


def _moto_names() -> set[str]:
    spec = importlib.util.find_spec("moto")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "ec2/resources/instance_types.json.gz"
    return set(json.loads(gzip.decompress(path.read_bytes())))


def test_types_carry_vcpus_memory_and_gpus() -> None:
    types = catalogue().types
    assert (types["c5.large"].vcpus, types["c5.large"].memory_mib, types["c5.large"].gpus) == (2, 4096, 0)
    assert (types["p3.16xlarge"].vcpus, types["p3.16xlarge"].gpus) == (64, 8)
    assert types["m6g.xlarge"].arch == "arm64"


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_mib", "gpus", "arch"),
    [
        ("t2.small", 1, 2048, 0, "x86_64"),
        ("m8g.large", 2, 8192, 0, "arm64"),
        ("c8g.large", 2, 4096, 0, "arm64"),
        ("g6e.xlarge", 4, 32768, 1, "x86_64"),
        ("p4d.24xlarge", 96, 1179648, 8, "x86_64"),
        ("inf2.xlarge", 4, 16384, 0, "x86_64"),  # Inferentia is not a GPU
    ],
)
def test_sizes_come_from_motos_describe_instance_types_records(
    name: str, vcpus: int, memory_mib: int, gpus: int, arch: str
) -> None:
    kind = catalogue().types[name]
    assert (kind.vcpus, kind.memory_mib, kind.gpus, kind.arch) == (vcpus, memory_mib, gpus, arch)


def test_every_ec2_type_moto_records_is_in_the_catalogue() -> None:
    assert _moto_names() <= set(catalogue().types)
    assert len(catalogue().types) > 1200


def test_our_file_holds_only_what_neither_library_has() -> None:
    """A type moto gains, or one botocore stops naming, fails here: drop it from the file."""
    ours = set(_ours()["types"])
    assert ours and not ours & _moto_names()
    assert ours <= ec2_names()
    assert set(_ours()["aliases"]) == {"optimal", "default_x86_64", "default_arm64"}


def test_an_m4_large_registers_the_memory_aws_documents_less_the_agents_32_mib() -> None:
    assert catalogue().types["m4.large"].registered_memory_mib == 7985 - 32


def test_aliases_and_families_resolve_smallest_first() -> None:
    resolved = catalogue().resolve(["optimal"])
    assert {t.family for t in resolved} == {"c4", "m4", "r4"}
    assert resolved[0].name == "c4.large"
    assert {t.family for t in catalogue().resolve(["default_arm64"])} == {"c6g", "m6g", "r6g", "c7g"}
    mixed = catalogue().resolve(["c5.xlarge", "g4dn"])
    assert mixed[0].name == "c5.xlarge"  # no GPUs first
    assert all(t.family == "g4dn" for t in mixed[1:])
    assert [t.name for t in catalogue().resolve(["t2"])][:3] == ["t2.nano", "t2.micro", "t2.small"]


@pytest.mark.parametrize(
    "names",
    [
        ["optimal"],
        ["c5"],
        ["c5.24xlarge", "trn1", "default_x86_64"],
        ["t2.small", "t2", "m8g.large", "c8g.large", "g6e.xlarge"],
        ["g2.2xlarge", "cr1"],  # named by botocore's model only: accepted, no size known
    ],
)
def test_known_names_pass(names: list[str]) -> None:
    check_instance_types(names)


def test_a_type_without_a_known_size_resolves_to_nothing() -> None:
    assert "g2.2xlarge" in ec2_names() and "g2.2xlarge" not in catalogue().types
    assert catalogue().resolve(["g2"]) == []


@pytest.mark.parametrize("unknown", ["m5.gigantic", "t2.small ", "T2", "c5.", ""])
def test_an_unknown_name_is_refused_listing_what_is_known(unknown: str) -> None:
    with pytest.raises(ClientException) as raised:
        check_instance_types(["c5", unknown])
    message = raised.value.message
    assert message.startswith("Error executing request, Exception : Instance type can only be one of [")
    assert "c5.large" in message and "optimal" in message and "m8g.large" in message
    assert "m5.gigantic" not in message


@pytest.mark.parametrize(
    "names",
    [
        ["optimal"],
        ["default_x86_64"],
        ["default_arm64", "p3"],
        ["m5.large", "c5"],
        ["c4.large", "c4.xlarge", "nope.large"],
        ["r5d", "g4dn.xlarge", "optimal"],
    ],
)
def test_resolving_reads_only_what_it_needs_and_answers_as_the_whole_catalogue(names: list[str]) -> None:
    assert resolve(names) == catalogue().resolve(names)
    assert resolve(names)

"""The EC2 instance catalogue: sizes, aliases, registered memory, and AWS's refusal of unknown types."""

from __future__ import annotations

import pytest

from batchemu.domain.instance_types import catalogue, check_instance_types
from batchemu.errors import ClientException


def test_types_carry_vcpus_memory_and_gpus() -> None:
    types = catalogue().types
    assert (types["c5.large"].vcpus, types["c5.large"].memory_mib, types["c5.large"].gpus) == (2, 4096, 0)
    assert (types["p3.16xlarge"].vcpus, types["p3.16xlarge"].gpus) == (64, 8)
    assert types["m6g.xlarge"].arch == "arm64"


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


@pytest.mark.parametrize("names", [["optimal"], ["c5"], ["c5.24xlarge", "trn1", "default_x86_64"]])
def test_known_names_pass(names: list[str]) -> None:
    check_instance_types(names)


def test_an_unknown_name_is_refused_listing_what_is_known() -> None:
    with pytest.raises(ClientException) as raised:
        check_instance_types(["c5", "m5.gigantic"])
    message = raised.value.message
    assert message.startswith("Error executing request, Exception : Instance type can only be one of [")
    assert "c5.large" in message and "optimal" in message and "m5.gigantic" not in message

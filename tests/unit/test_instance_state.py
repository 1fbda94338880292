"""instances.json: fleets written when they change and read back as they were (batchemu/instance_state.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from batchemu.domain.instance_types import catalogue
from batchemu.domain.store import Store
from batchemu.instance_state import FILE_NAME, InstanceFile
from batchemu.scheduler.instances import Fleets, Instance

CE = "arn:aws:batch:us-east-1:123456789012:compute-environment/ce"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:container-instance/ce_Batch_1"


def instance(number: int, kind: str = "c5.large", idle_since: int | None = None) -> Instance:
    return Instance(
        f"i-{number:017x}",
        f"{CLUSTER}/{number}",
        catalogue().types[kind],
        CE,
        spot=number % 2 == 1,
        launched_at=1000 + number,
        idle_since=idle_since,
    )


def fleets_of(*instances: Instance, desired: int | None = None) -> Fleets:
    fleets = Fleets()
    for each in instances:
        fleets.restore(each, desired)
    return fleets


def test_fleets_come_back_as_they_were_saved(tmp_path: Path) -> None:
    saved = fleets_of(instance(1, idle_since=5000), instance(2, "m5.2xlarge"), desired=10)
    InstanceFile(str(tmp_path)).save(Store(), saved)
    loaded = Fleets()
    assert InstanceFile(str(tmp_path)).load(loaded, now=9000) == 2
    fleet = loaded.fleets[CE]
    assert list(fleet.instances.values()) == list(saved.fleets[CE].instances.values())
    assert (fleet.total_vcpus, fleet.desired_written, list(fleet.spare)) == (10, 10, list(fleet.instances))


def test_nothing_is_written_when_nothing_changed(tmp_path: Path) -> None:
    store, fleets, file = Store(), fleets_of(instance(1)), InstanceFile(str(tmp_path))
    file.save(store, fleets)
    (tmp_path / FILE_NAME).unlink()
    file.save(store, fleets)
    assert not (tmp_path / FILE_NAME).exists()
    fleets.fleets[CE].instances[f"{CLUSTER}/1"].idle_since = 7000
    file.save(store, fleets)
    [saved] = json.loads((tmp_path / FILE_NAME).read_text())["fleets"][0]["instances"]
    assert saved["idle_since"] == 7000
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no temporary file left behind


def test_an_idle_time_after_now_becomes_now(tmp_path: Path) -> None:
    InstanceFile(str(tmp_path)).save(Store(), fleets_of(instance(1, idle_since=50_000)))
    loaded = Fleets()
    InstanceFile(str(tmp_path)).load(loaded, now=20_000)
    assert loaded.fleets[CE].instances[f"{CLUSTER}/1"].idle_since == 20_000


def test_a_type_the_catalogue_no_longer_has_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    InstanceFile(str(tmp_path)).save(Store(), fleets_of(instance(1), instance(2)))
    data = json.loads((tmp_path / FILE_NAME).read_text())
    data["fleets"][0]["instances"][0]["instance_type"] = "zz9.huge"
    (tmp_path / FILE_NAME).write_text(json.dumps(data))
    loaded = Fleets()
    with caplog.at_level(logging.WARNING, logger="batchemu.persistence"):
        assert InstanceFile(str(tmp_path)).load(loaded, now=0) == 1
    assert list(loaded.fleets[CE].instances) == [f"{CLUSTER}/2"]
    assert "zz9.huge" in caplog.text


def test_clear_removes_the_file(tmp_path: Path) -> None:
    file = InstanceFile(str(tmp_path))
    file.save(Store(), fleets_of(instance(1)))
    file.clear()
    assert not (tmp_path / FILE_NAME).exists()
    file.clear()  # twice is fine

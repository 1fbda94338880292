"""botocore waiters for Batch, which botocore itself does not ship: JobExists, JobRunning, JobComplete,
defined in data/waiters-2.json. Client-side helpers; they import botocore and nothing of batchemu's.

    waiter = get_waiter(boto3.client("batch"), "JobComplete")
    waiter.wait(jobs=[job_id])

Each polls DescribeJobs every second, 120 times. Against an emulator on a fake clock time moves only when
told to, so a waiter there waits for nothing: step the emulator (the pytest `batchemu` fixture's
wait_for_status, or Emulator.run_until_idle) and use the waiter with WaiterConfig={"Delay": 0}.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from botocore.waiter import Waiter, WaiterModel, create_waiter_with_client

__all__ = ["WAITER_NAMES", "get_waiter", "waiter_config", "waiter_model"]

WAITER_NAMES = ("JobExists", "JobRunning", "JobComplete")


@cache
def _load() -> str:
    return resources.files("batchemu").joinpath("data/waiters-2.json").read_text(encoding="utf-8")


def waiter_config() -> dict[str, Any]:
    """The waiter definitions (botocore's waiters-2 format), a fresh copy each call."""
    config: dict[str, Any] = json.loads(_load())
    return config


def waiter_model() -> WaiterModel:
    return WaiterModel(waiter_config())


def get_waiter(client: Any, name: str) -> Waiter:
    """A waiter bound to `client` (a boto3/botocore Batch client); `name` as in the JSON ("JobComplete")
    or in boto3's snake_case ("job_complete")."""
    wanted = _canonical(name)
    return create_waiter_with_client(wanted, waiter_model(), client)


def _canonical(name: str) -> str:
    by_snake = {_snake(known): known for known in WAITER_NAMES}
    if name in WAITER_NAMES:
        return name
    if name in by_snake:
        return by_snake[name]
    raise ValueError(f"No Batch waiter {name!r}; choose one of {', '.join(WAITER_NAMES)}")


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")

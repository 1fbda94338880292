"""Resolving what a job runs: override merging, Ref:: substitution in the command, resource needs, and the
AWS_BATCH_* environment a container sees."""

from __future__ import annotations

import functools
import hashlib
import re
import urllib.parse
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from batchemu.domain.models import Job, Spec

RESERVED_PREFIX = "AWS_BATCH"
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_EMPTY: list[Any] = []  # shared; never appended to
DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY_MIB = 2048


@dataclass(frozen=True)
class Requirements:
    vcpus: float
    memory_mib: int
    gpus: int


def substitute_refs(command: list[str], parameters: dict[str, str]) -> list[str]:
    """Replaces whole `Ref::name` elements by their parameter; unknown placeholders stay literal text
    (AWS's behaviour for partial and unknown placeholders is UNCONFIRMED; see docs/compatibility.md)."""
    result = []
    for part in command:
        if part.startswith("Ref::") and part[5:] in parameters:
            result.append(parameters[part[5:]])
        else:
            result.append(part)
    return result


def merge_environment(base: list[Spec], overrides: list[Spec]) -> list[Spec]:
    """Override entries replace base entries of the same name; AWS_BATCH* names are dropped silently."""
    merged: dict[str, Spec] = {}
    for entry in [*base, *overrides]:
        name = entry.get("name")
        if name and not name.startswith(RESERVED_PREFIX):
            merged[name] = entry  # entries are never changed in place, so they are shared, not copied
    return list(merged.values())


def merge_resource_requirements(base: list[Spec], overrides: list[Spec]) -> list[Spec]:
    merged = {entry["type"]: entry for entry in base}
    for entry in overrides:
        merged[entry["type"]] = entry
    return list(merged.values())


def resolve_container(properties: Spec, overrides: Spec | None, parameters: dict[str, str]) -> Spec:
    """The job's container section: job definition properties with SubmitJob's overrides and Ref:: applied.
    A shallow copy: nested values the job does not change stay shared with the definition (stored
    resources are never changed in place), which keeps a stored job small."""
    container = dict(properties)
    overrides = overrides or {}
    if "command" in overrides:
        container["command"] = list(overrides["command"])
    container["environment"] = merge_environment(
        container.get("environment", []), overrides.get("environment", [])
    )
    container["resource_requirements"] = merge_resource_requirements(
        container.get("resource_requirements", []), overrides.get("resource_requirements", [])
    )
    for legacy in ("vcpus", "memory", "instance_type"):
        if legacy in overrides:
            container[legacy] = overrides[legacy]
    container["command"] = substitute_refs(container.get("command", []), parameters)
    for listed in ("volumes", "mount_points", "ulimits"):
        container.setdefault(listed, _EMPTY)
    return container


class PerContainer(Generic[K, V]):
    """Values worked out once per container. Containers are shared (by the jobs that change nothing, and by
    array children) and never changed in place, so a value is keyed by the container's id and the caller's
    `extra`; the container is kept so that id stays its own. At most `size` entries, then it starts over."""

    def __init__(self, make: Callable[[Spec, K], V], size: int = 4096) -> None:
        self._make = make
        self._size = size
        self._found: dict[tuple[int, K], tuple[Spec, V]] = {}

    def __call__(self, container: Spec, extra: K) -> V:
        key = (id(container), extra)
        found = self._found.get(key)
        if found is not None and found[0] is container:
            return found[1]
        value = self._make(container, extra)
        if len(self._found) >= self._size:
            self._found.clear()
        self._found[key] = (container, value)
        return value


def requirements(container: Spec | None) -> Requirements:
    """vCPUs, MiB and GPUs from resourceRequirements, falling back to the legacy vcpus/memory."""
    if container is None:
        return _read_requirements({})
    return _REQUIREMENTS(container, None)


def _read_requirements(container: Spec) -> Requirements:
    by_type = {entry["type"]: entry["value"] for entry in container.get("resource_requirements", [])}
    vcpus = _number(by_type.get("VCPU"), container.get("vcpus") or DEFAULT_VCPUS)
    memory = int(_number(by_type.get("MEMORY"), container.get("memory") or DEFAULT_MEMORY_MIB))
    gpus = int(_number(by_type.get("GPU"), 0))
    return Requirements(vcpus, memory, gpus)


_REQUIREMENTS: PerContainer[None, Requirements] = PerContainer(
    lambda container, _: _read_requirements(container)
)


def _number(text: Any, default: float) -> float:
    try:
        return float(text) if text is not None else float(default)
    except (TypeError, ValueError):
        return float(default)


def batch_environment(
    job: Job, attempt: int, queue_name: str, compute_environment_name: str
) -> dict[str, str]:
    """The variables AWS Batch sets in every job container (names starting AWS_BATCH are reserved)."""
    env = batch_environment_template(
        queue_name, compute_environment_name, job.array_index is not None, job.array_size
    )
    fill_batch_environment(env, job, attempt)
    if job.node_index is not None:
        # Job containers share the host's network here, so the main node is reached on loopback.
        env.update(multi_node_environment(job, "127.0.0.1"))
    return env


def batch_environment_template(
    queue_name: str, compute_environment_name: str, array_child: bool, array_size: int | None
) -> dict[str, str]:
    """batch_environment's keys in its order, with what jobs of a queue, compute environment and array
    size share; fill_batch_environment puts in a job's own values."""
    env = {
        "AWS_BATCH_JOB_ID": "",
        "AWS_BATCH_JQ_NAME": queue_name,
        "AWS_BATCH_CE_NAME": compute_environment_name,
        "AWS_BATCH_JOB_ATTEMPT": "",
    }
    if array_child:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = ""
        if array_size is not None:
            env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(array_size)
    return env


def fill_batch_environment(env: dict[str, str], job: Job, attempt: int) -> None:
    """A job's own values, in the places batch_environment_template made for them."""
    env["AWS_BATCH_JOB_ID"] = job.id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(attempt)
    if job.array_index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_index)


def container_environment(container: Spec | None) -> dict[str, str]:
    return {entry["name"]: entry.get("value", "") for entry in (container or {}).get("environment", [])}


def node_range(target_nodes: str, num_nodes: int) -> tuple[int, int]:
    """`a:b` (inclusive), `:b` (from 0), `a:` (to the last node) or `a` (one node)."""
    if ":" not in target_nodes:
        index = int(target_nodes)
        return index, index
    low, _, high = target_nodes.partition(":")
    return (int(low) if low else 0), (int(high) if high else num_nodes - 1)


def node_group(node_properties: Spec, index: int) -> Spec:
    """The narrowest node range that holds node `index` (nested ranges: narrower wins); {} if none does."""
    num_nodes = int(node_properties.get("num_nodes", 1))
    best: Spec = {}
    best_span = None
    for group in node_properties.get("node_range_properties", []):
        low, high = node_range(group.get("target_nodes", ""), num_nodes)
        if low <= index <= high and (best_span is None or high - low < best_span):
            best, best_span = group, high - low
    return best


def node_container(node_properties: Spec, index: int) -> Spec | None:
    """The container of the node range that holds node `index` (None for an ecsProperties or eksProperties
    range)."""
    found: Spec | None = node_group(node_properties, index).get("container")
    return found


def multi_node_environment(job: Job, main_node_address: str) -> dict[str, str]:
    """AWS_BATCH_JOB_NODE_INDEX and friends; the main node's address only on the other nodes."""
    env = {
        "AWS_BATCH_JOB_NODE_INDEX": str(job.node_index),
        "AWS_BATCH_JOB_NUM_NODES": str(job.num_nodes),
        "AWS_BATCH_JOB_MAIN_NODE_INDEX": str(job.main_node),
    }
    if not job.is_main_node:
        env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = main_node_address
    return env


# Job ids are UUIDs, with `:<index>` for array children and `#<node>` for nodes: quoted as quote(id, safe="").
_PLAIN_JOB_ID = re.compile(r"[A-Za-z0-9_.~:#-]*\Z")


def agent_path(account: str, region: str, job_id: str, attempt: int, container: Spec | None = None) -> str:
    """Where the emulator serves an attempt what the ECS agent serves a task (metadata, credentials); a
    container of a multi-container task has its own, as each ECS container has its metadata URI."""
    if _PLAIN_JOB_ID.match(job_id):  # every id batchemu makes: quote() reads it a character at a time
        quoted = job_id.replace(":", "%3A").replace("#", "%23")
    else:
        quoted = urllib.parse.quote(job_id, safe="")
    path = f"/_batchemu/ecs/{account}/{region}/{quoted}/{attempt}"
    if container is not None:
        path += "/container/" + urllib.parse.quote(container.get("name") or "", safe="")
    return path


def agent_token(secret: str, job_id: str, attempt: int) -> str:
    """The token an attempt shows to get its role's credentials (AWS_CONTAINER_AUTHORIZATION_TOKEN): a
    keyed BLAKE2b MAC of the attempt (a MAC by design, and a third of HMAC-SHA256's cost per attempt)."""
    mac = _keyed_mac(secret).copy()  # the key's block is hashed once per secret, not once per attempt
    mac.update(f"{job_id}/{attempt}".encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=16)
def _keyed_mac(secret: str) -> Any:
    return hashlib.blake2b(key=_mac_key(secret), digest_size=32)


@functools.lru_cache(maxsize=16)
def _mac_key(secret: str) -> bytes:
    key = secret.encode()
    return hashlib.sha256(key).digest() if len(key) > hashlib.blake2b.MAX_KEY_SIZE else key

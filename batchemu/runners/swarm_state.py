"""How swarm's view reads in batchemu's terms: nodes as container instances (SwarmNode), a task's status
as a RunState, a service log's multiplexed frames, and the address jobs on other hosts reach the emulator
at. Pure functions over the Docker API's JSON; imports runners.base/container_runner/process only."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from batchemu.runners.base import Phase, RunState
from batchemu.runners.container_runner import OOM_REASON
from batchemu.runners.process import KILLED_EXIT_CODE

HOST_TERMINATED = "Host EC2 (instance {instance}) terminated."
LIVE_TASK_STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")


@dataclass(frozen=True)
class SwarmNode:
    """One swarm node as a container instance: what it offers and whether it takes work."""

    node_id: str
    address: str
    vcpus: float
    memory_mib: int
    labels: dict[str, str]
    ready: bool
    active: bool

    @property
    def instance_id(self) -> str:
        """A stable EC2-style instance id for the node."""
        return "i-" + hashlib.sha256(self.node_id.encode()).hexdigest()[:17]

    @property
    def usable(self) -> bool:
        return self.ready and self.active


def container_instance_key(node_id: str) -> str:
    """The 32-hex id a node has as an ECS container instance (the last part of its ARN)."""
    return hashlib.sha256(("container-instance:" + node_id).encode()).hexdigest()[:32]


def node_of(summary: dict[str, Any]) -> SwarmNode:
    description = summary.get("Description") or {}
    resources = description.get("Resources") or {}
    spec = summary.get("Spec") or {}
    status = summary.get("Status") or {}
    return SwarmNode(
        node_id=summary["ID"],
        address=str(status.get("Addr") or ""),
        vcpus=int(resources.get("NanoCPUs") or 0) / 1e9,
        memory_mib=int(resources.get("MemoryBytes") or 0) // (1024 * 1024),
        labels=dict(spec.get("Labels") or {}),
        ready=status.get("State") == "ready",
        active=spec.get("Availability") == "active",
    )


def exit_state(status: dict[str, Any], stop_requested: bool, graceful: bool = False) -> RunState:
    """The task's end; after a stop, exit 0 is 137 (killed) unless the stop was `graceful` (SIGTERM
    first), when the exit code is the container's own."""
    container = status.get("ContainerStatus") or {}
    if not container.get("ContainerID"):  # it never ran
        return RunState(
            Phase.FAILED_TO_START, reason=f"CannotStartContainerError: {status.get('Err') or 'no container'}"
        )
    exit_code = int(container.get("ExitCode") or 0)
    if exit_code == KILLED_EXIT_CODE and not stop_requested:
        # A task's status has no OOMKilled flag: a SIGKILL nobody here asked for is taken for the kernel's
        # OOM killer (docs/scale-out.md).
        return RunState(Phase.EXITED, exit_code=exit_code, reason=OOM_REASON)
    if stop_requested and exit_code == 0 and not graceful:
        exit_code = KILLED_EXIT_CODE
    return RunState(Phase.EXITED, exit_code=exit_code)


def transient_rejection(status: dict[str, Any]) -> bool:
    return "no longer meets constraints" in str(status.get("Err") or "")


def rejected_reason(error: str) -> str:
    kind = (
        "CannotPullContainerError"
        if "No such image" in error or "pull" in error.lower()
        else "CannotStartContainerError"
    )
    return f"{kind}: Error response from daemon: {error}"


def reachable_endpoint(endpoint: str, toward: str) -> str:
    """`endpoint` with a loopback host replaced by the address this machine uses toward `toward`."""
    parts = urlsplit(endpoint)
    if parts.hostname not in ("127.0.0.1", "localhost", "0.0.0.0", "::1") or not toward:
        return endpoint
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((toward, 2377))  # no packet is sent: this only picks the route
            address = probe.getsockname()[0]
    except OSError:
        return endpoint
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{address}{port}", parts.path, parts.query, parts.fragment))


def demultiplex(body: bytes) -> bytes:
    """The payload of a Docker multiplexed stream (frames of an 8-byte header: stream, 0, 0, 0, size)."""
    chunks, offset = [], 0
    while offset + 8 <= len(body):
        size = int.from_bytes(body[offset + 4 : offset + 8], "big")
        chunks.append(body[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return b"".join(chunks)

"""What a job may ask of the host it runs on. By default nothing beyond an ordinary container: privileged
mode, host-path volumes outside the allow-list, the Docker socket and host devices are refused unless the
emulator was started with --allow-privileged / --allow-host-path PATH."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from batchemu.domain.models import Spec
from batchemu.errors import ClientException

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


@dataclass(frozen=True)
class HostAccessPolicy:
    allow_privileged: bool = False
    allowed_host_paths: tuple[str, ...] = field(default_factory=tuple)

    def allows_path(self, path: str) -> bool:
        real = os.path.realpath(path)
        for allowed in self.allowed_host_paths:
            root = os.path.realpath(allowed)
            if real == root or real.startswith(root.rstrip("/") + "/"):
                return True
        return False


def check_container(container: Spec | None, policy: HostAccessPolicy) -> None:
    """Raises ClientException naming what the container asks for and the flag that would allow it."""
    if not container:
        return
    if container.get("privileged") and not policy.allow_privileged:
        raise ClientException(
            "Privileged containers are refused by this batchemu server; start it with --allow-privileged to allow them"
        )
    for volume in container.get("volumes") or []:
        source = ((volume.get("host") or {}).get("source_path")) or ""
        if source:
            _check_host_path(source, policy, f"Volume {volume.get('name', '')!r}")
    for device in (container.get("linux_parameters") or {}).get("devices") or []:
        _check_host_path(device.get("host_path", ""), policy, "Device")


def _check_host_path(path: str, policy: HostAccessPolicy, what: str) -> None:
    if policy.allows_path(path):
        return
    if os.path.realpath(path) in DOCKER_SOCKETS or os.path.basename(path) == "docker.sock":
        raise ClientException(
            f"{what} mounts the Docker socket {path}, which would give the job control of the host; "
            f"start batchemu with --allow-host-path {path} to allow it"
        )
    raise ClientException(
        f"{what} uses the host path {path}, which is outside the allowed host paths; "
        f"start batchemu with --allow-host-path {path} (or a folder above it) to allow it"
    )

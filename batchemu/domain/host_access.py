"""What a job may ask of the host it runs on. AWS runs privileged containers and host-path volumes on EC2,
so jobs that ask for them are accepted; unless the emulator was started with --allow-privileged /
--allow-host-path PATH, they run confined: unprivileged, each host path replaced by a scratch volume that
lives as long as the container, host devices left out. confine() says what it changed, for the log."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from batchemu.domain.models import Spec

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


def confine(container: Spec, policy: HostAccessPolicy) -> tuple[Spec, list[str]]:
    """The container as this server runs it, and one warning per thing the policy took away."""
    warnings: list[str] = []
    confined = dict(container)
    if container.get("privileged") and not policy.allow_privileged:
        confined["privileged"] = False
        warnings.append("privileged was asked for; the container runs unprivileged (see --allow-privileged)")
    volumes = []
    for volume in container.get("volumes") or []:
        source = (volume.get("host") or {}).get("source_path") or ""
        if source and not policy.allows_path(source):
            volume = {key: value for key, value in volume.items() if key != "host"}
            what = "the Docker socket" if _is_docker_socket(source) else "host path"
            warnings.append(
                f"volume {volume.get('name', '')!r} asked for {what} {source}; it gets an empty scratch "
                f"volume instead (see --allow-host-path)"
            )
        volumes.append(volume)
    if container.get("volumes"):
        confined["volumes"] = volumes
    parameters = container.get("linux_parameters") or {}
    devices = parameters.get("devices") or []
    allowed = [device for device in devices if policy.allows_path(device.get("host_path", ""))]
    if len(allowed) != len(devices):
        confined["linux_parameters"] = {**parameters, "devices": allowed}
        for device in devices:
            if device not in allowed:
                warnings.append(f"device {device.get('host_path', '')} is left out (see --allow-host-path)")
    return confined, warnings


def _is_docker_socket(path: str) -> bool:
    return os.path.realpath(path) in DOCKER_SOCKETS or os.path.basename(path) == "docker.sock"

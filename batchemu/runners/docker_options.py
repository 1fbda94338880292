"""How a ContainerSpec becomes docker SDK create() arguments: environment, labels, limits, user, ulimits,
linuxParameters (shared memory, init, swap, tmpfs, devices) and volumes/mount points."""

from __future__ import annotations

import os
import re
import secrets
from typing import Any

from docker.types import DeviceRequest, Mount, Ulimit

from batchemu.runners.base import ContainerSpec
from batchemu.runners.ownership import ATTEMPT_LABEL, JOB_ID_LABEL, MANAGED_LABEL, TASK_CONTAINER_LABEL
from batchemu.runners.process import job_environment


def create_arguments(
    spec: ContainerSpec, endpoint: str, network: str, owner_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """The docker SDK's containers.create() arguments for one attempt; `owner_labels` name the server
    that owns it (runners/ownership.py)."""
    safe_id = re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.job_id)
    arguments: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.command) or None,
        "name": f"batchemu-{safe_id}-{spec.attempt}-{secrets.token_hex(3)}",
        "environment": job_environment(spec, endpoint),
        "labels": {
            **spec.labels,
            **(owner_labels or {}),
            MANAGED_LABEL: "1",
            JOB_ID_LABEL: spec.job_id,
            ATTEMPT_LABEL: str(spec.attempt),
            **({TASK_CONTAINER_LABEL: spec.name} if spec.in_task else {}),
        },
        "network_mode": network,
        "detach": True,
        "nano_cpus": int(min(spec.vcpus, float(os.cpu_count() or 1)) * 1e9) if spec.vcpus > 0 else None,
        "mem_limit": f"{spec.memory_mib}m" if spec.memory_mib > 0 else None,
        "user": spec.user or None,
        "privileged": spec.privileged,
        "read_only": spec.readonly_root_filesystem,
        "ulimits": [
            Ulimit(name=entry["name"], soft=int(entry["soft_limit"]), hard=int(entry["hard_limit"]))
            for entry in spec.ulimits
        ]
        or None,
    }
    if spec.gpus > 0:
        arguments["device_requests"] = [DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])]
    arguments.update(_linux_parameters(spec))
    arguments.update(_mounts(spec))
    return {name: value for name, value in arguments.items() if value is not None}


def _linux_parameters(spec: ContainerSpec) -> dict[str, Any]:
    parameters = spec.linux_parameters
    arguments: dict[str, Any] = {}
    if parameters.get("shared_memory_size"):
        arguments["shm_size"] = f"{int(parameters['shared_memory_size'])}m"
    if parameters.get("init_process_enabled"):
        arguments["init"] = True
    if parameters.get("max_swap") is not None and spec.memory_mib > 0:
        arguments["memswap_limit"] = f"{spec.memory_mib + int(parameters['max_swap'])}m"
    if parameters.get("tmpfs"):
        arguments["tmpfs"] = {
            entry["container_path"]: ",".join(
                [f"size={int(entry['size'])}m", *entry.get("mount_options", [])]
            )
            for entry in parameters["tmpfs"]
        }
    if parameters.get("devices"):
        arguments["devices"] = [_device(entry) for entry in parameters["devices"]]
    return arguments


def _device(entry: dict[str, Any]) -> str:
    permissions = entry.get("permissions") or ["READ", "WRITE", "MKNOD"]
    modes = "".join(
        letter for name, letter in zip(("READ", "WRITE", "MKNOD"), "rwm", strict=True) if name in permissions
    )
    return f"{entry['host_path']}:{entry.get('container_path') or entry['host_path']}:{modes}"


def shared_volume_name(spec: ContainerSpec, volume: str) -> str:
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{spec.job_id}-{spec.attempt}-{volume}")
    return f"batchemu-{safe}"


def _mounts(spec: ContainerSpec) -> dict[str, Any]:
    """Host-path volumes become binds; a pod's emptyDir volumes (`shared`) become one named volume of the
    attempt (labelled with it, removed after its last container: docker_network.remove_task_volumes);
    other volumes without a host path become anonymous Docker volumes, which are removed with the
    container (AWS: a Docker-managed volume that lives as long as the task)."""
    volumes = {volume.get("name"): volume for volume in spec.volumes}
    binds: list[str] = []
    mounts: list[Mount] = []
    for point in spec.mount_points:
        volume, inside = volumes.get(point.get("source_volume")), point.get("container_path")
        if volume is None or not inside:
            continue
        read_only = bool(point.get("read_only"))
        host_path = (volume.get("host") or {}).get("source_path")
        if host_path:
            binds.append(f"{host_path}:{inside}:{'ro' if read_only else 'rw'}")
        elif volume.get("shared"):  # a pod's emptyDir: one volume for the task's containers
            name = shared_volume_name(spec, str(volume.get("name")))
            labels = {JOB_ID_LABEL: spec.job_id, ATTEMPT_LABEL: str(spec.attempt), MANAGED_LABEL: "1"}
            mounts.append(
                Mount(target=inside, source=name, type="volume", read_only=read_only, labels=labels)
            )
        else:
            mounts.append(Mount(target=inside, source=None, type="volume", read_only=read_only))
    return {name: value for name, value in (("volumes", binds), ("mounts", mounts)) if value}

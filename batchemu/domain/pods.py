"""eksProperties jobs: the pod with SubmitJob's eksPropertiesOverride applied by container name, and the
pod as the containers of a task (init containers first, each waiting for the previous one to succeed,
then the containers once the last init container succeeded), which runners/tasks.py runs. Pure;
snake_case dicts as stored."""

from __future__ import annotations

import copy
import re

from batchemu.domain import params
from batchemu.domain.models import Spec
from batchemu.errors import ClientException

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_MEMORY_MIB = {"": 1 / 2**20, "k": 1000 / 2**20, "Ki": 1 / 1024, "M": 1e6 / 2**20, "Mi": 1, "G": 1e9 / 2**20}
_MEMORY_MIB.update({"Gi": 1024, "T": 1e12 / 2**20, "Ti": 2**20})


def pod(eks_properties: Spec | None) -> Spec:
    found: Spec = (eks_properties or {}).get("pod_properties") or {}
    return found


def resolve_pod(eks_properties: Spec, override: Spec | None, parameters: dict[str, str]) -> Spec:
    """The job's eksProperties: the override's containers and initContainers matched by name (image,
    command and args replace, env merges, resources replace), its metadata labels merged, and Ref::
    substituted in every command and args. An override naming no container is refused (a choice)."""
    resolved = copy.deepcopy(eks_properties)
    properties = resolved.setdefault("pod_properties", {})
    changes = pod(override)
    for key in ("init_containers", "containers"):
        declared = properties.get(key) or []
        by_name = {entry.get("name") or "": entry for entry in changes.get(key) or []}
        unknown = sorted(set(by_name) - {container.get("name") or "" for container in declared})
        if unknown:
            raise ClientException(
                f"eksPropertiesOverride names containers the job definition does not have: {', '.join(unknown)}"
            )
        for container in declared:
            _apply(container, by_name.get(container.get("name") or ""), parameters)
    labels = (changes.get("metadata") or {}).get("labels")
    if labels:
        metadata = properties.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return resolved


def _apply(container: Spec, change: Spec | None, parameters: dict[str, str]) -> None:
    for key in ("image", "command", "args", "resources"):
        if change and change.get(key) is not None:
            container[key] = copy.deepcopy(change[key])
    if change and change.get("env"):
        container["env"] = params.merge_environment(container.get("env") or [], change["env"])
    for key in ("command", "args"):
        if container.get(key):
            container[key] = params.substitute_refs(container[key], parameters)


def task_containers(eks_properties: Spec | None) -> list[Spec]:
    """The pod's init containers and containers as a task's containers (snake_case ContainerProperties):
    init containers are not essential and start in order, each once the one before exited 0; the
    containers start once the last init container did."""
    properties = pod(eks_properties)
    volumes = [_volume(volume) for volume in properties.get("volumes") or []]
    found: list[Spec] = []
    previous: str | None = None
    for init in properties.get("init_containers") or []:
        found.append(_container(init, volumes, previous, essential=False))
        previous = found[-1]["name"]
    for container in properties.get("containers") or []:
        found.append(_container(container, volumes, previous, essential=True))
    return found


def _container(container: Spec, volumes: list[Spec], after: str | None, essential: bool) -> Spec:
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    return {
        "name": container.get("name") or "default",
        "image": container.get("image", ""),
        "command": command,
        "environment": [dict(entry) for entry in container.get("env") or []],
        "resource_requirements": _resource_requirements(container.get("resources") or {}),
        "volumes": volumes,
        "mount_points": [
            {
                "source_volume": mount.get("name"),
                "container_path": mount.get("mount_path"),
                "read_only": bool(mount.get("read_only")),
            }
            for mount in container.get("volume_mounts") or []
        ],
        "user": _user(container.get("security_context") or {}),
        "privileged": bool((container.get("security_context") or {}).get("privileged")),
        "essential": essential,
        "depends_on": [{"container_name": after, "condition": "SUCCESS"}] if after else [],
    }


def _volume(volume: Spec) -> Spec:
    """An EKS volume as a task volume: hostPath becomes a host path, emptyDir a volume shared by the pod's
    containers for the attempt's life (`shared`), secrets and PVCs empty scratch volumes."""
    host_path = (volume.get("host_path") or {}).get("path")
    if host_path:
        return {"name": volume.get("name"), "host": {"source_path": host_path}}
    return {"name": volume.get("name"), "shared": True}


def _user(context: Spec) -> str | None:
    user, group = context.get("run_as_user"), context.get("run_as_group")
    if user is None:
        return None
    return f"{user}:{group}" if group is not None else str(user)


def _resource_requirements(resources: Spec) -> list[Spec]:
    """limits (else requests) of cpu, memory and nvidia.com/gpu as VCPU, MEMORY (MiB) and GPU."""
    merged = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    found = []
    if merged.get("cpu"):
        found.append({"type": "VCPU", "value": str(cpu(merged["cpu"]))})
    if merged.get("memory"):
        found.append({"type": "MEMORY", "value": str(memory_mib(merged["memory"]))})
    if merged.get("nvidia.com/gpu"):
        found.append({"type": "GPU", "value": str(int(float(merged["nvidia.com/gpu"])))})
    return found


def cpu(quantity: str) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_mib(quantity: str) -> int:
    match = _QUANTITY.match(str(quantity))
    if match is None or match.group(2) not in _MEMORY_MIB:
        return 0
    return max(1, int(float(match.group(1)) * _MEMORY_MIB[match.group(2)]))


def requirements(eks_properties: Spec | None) -> params.Requirements:
    """What the pod asks of its node, as Kubernetes counts it: the larger of its largest init container
    and the sum of its containers."""
    containers = task_containers(eks_properties)
    init = [params.requirements(c) for c in containers if not c["essential"]]
    main = [params.requirements(c) for c in containers if c["essential"]] or [params.requirements(None)]
    total = params.Requirements(
        sum(n.vcpus for n in main), sum(n.memory_mib for n in main), sum(n.gpus for n in main)
    )
    return params.Requirements(
        max([total.vcpus, *(n.vcpus for n in init)]),
        max([total.memory_mib, *(n.memory_mib for n in init)]),
        max([total.gpus, *(n.gpus for n in init)]),
    )

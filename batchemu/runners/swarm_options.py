"""How a ContainerSpec becomes a Docker Swarm service in `replicated-job` mode: the Docker runner's create()
arguments (docker_options.create_arguments) translated to a task template, the job's vCPUs and memory as
both reservations and limits, one replica, no restart. Imports runners.base/docker_options only."""

from __future__ import annotations

import re
import secrets
from typing import Any

from docker.types import (
    ContainerSpec as ServiceContainerSpec,
)
from docker.types import (
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
)

from batchemu.runners.base import ContainerSpec
from batchemu.runners.docker_options import create_arguments

# A node label `batchemu.ce.<name>=true` puts that node in compute environment <name>; a compute
# environment no node names runs on every node.
CE_LABEL_PREFIX = "batchemu.ce."
_NAME_MAX = 63  # swarm service names are DNS labels


class UnsupportedOnSwarm(ValueError):
    """The job asks for something a swarm service cannot give (host devices, GPUs)."""


def service_name(spec: ContainerSpec) -> str:
    safe_id = re.sub(r"[^a-zA-Z0-9-]", "-", spec.job_id)
    suffix = f"-{spec.attempt}-{secrets.token_hex(3)}"
    return f"batchemu-{safe_id}"[: _NAME_MAX - len(suffix)].rstrip("-") + suffix


def ce_constraint(compute_environment: str, node_labels: list[dict[str, str]]) -> list[str]:
    """Placement constraints for a compute environment: its labelled nodes, when any node is labelled."""
    label = CE_LABEL_PREFIX + compute_environment
    if any(label in labels for labels in node_labels):
        return [f"node.labels.{label}==true"]
    return []


def service_arguments(
    spec: ContainerSpec,
    endpoint: str,
    network: str,
    constraints: list[str] | None = None,
    task_network: str | None = None,
) -> dict[str, Any]:
    """The docker SDK's APIClient.create_service() arguments for one attempt; a container of a task also
    joins its task's network, where the container's name is its alias."""
    if spec.gpus > 0:
        raise UnsupportedOnSwarm("GPU jobs are not supported by the swarm runner")
    options = create_arguments(spec, endpoint, network)
    if options.get("devices"):
        raise UnsupportedOnSwarm("linuxParameters.devices are not supported by the swarm runner")
    container = ServiceContainerSpec(
        image=options["image"],
        # Docker's Cmd: the image's ENTRYPOINT stays, as with `docker run IMAGE COMMAND...`
        args=options.get("command"),
        env=options["environment"],
        labels=options["labels"],
        user=options.get("user"),
        read_only=options.get("read_only") or None,
        init=options.get("init"),
        mounts=_mounts(spec, options) or None,
        # swarm services cannot be privileged; every capability is the closest it offers
        cap_add=["ALL"] if options.get("privileged") else None,
        # terminate and timeout kill at once, as the Docker runner does; a container of a multi-container
        # task gets its image's stop signal (SIGTERM) and its stopTimeout before SIGKILL, as ECS gives it
        stop_signal=None if spec.in_task else "SIGKILL",
        stop_grace_period=int(spec.stop_timeout * 1e9) if spec.in_task else None,
    )
    if options.get("ulimits"):
        container["Ulimits"] = [dict(ulimit) for ulimit in options["ulimits"]]
    nano_cpus = int(spec.vcpus * 1e9) if spec.vcpus > 0 else None
    memory = spec.memory_mib * 1024 * 1024 if spec.memory_mib > 0 else None
    template = TaskTemplate(
        container,
        resources=Resources(
            cpu_limit=nano_cpus, mem_limit=memory, cpu_reservation=nano_cpus, mem_reservation=memory
        ),
        restart_policy=RestartPolicy(condition="none", max_attempts=0),
        placement=Placement(constraints=constraints) if constraints else None,
        networks=[network, *([{"Target": task_network, "Aliases": [spec.name]}] if task_network else [])],
    )
    arguments = {
        "task_template": template,
        "name": service_name(spec),
        "labels": options["labels"],
        "mode": ServiceMode("replicated-job", replicas=1, concurrency=1),
    }
    if task_network:  # the name resolves to the task's own address, not to a virtual IP swarm balances
        arguments["endpoint_spec"] = EndpointSpec(mode="dnsrr")
    return arguments


def _mounts(spec: ContainerSpec, options: dict[str, Any]) -> list[Mount]:
    """Binds and anonymous volumes as the Docker runner has them; tmpfs and shared memory as tmpfs
    mounts (a service has no --tmpfs or --shm-size). Host paths must exist on the node the task runs on."""
    mounts: list[Mount] = list(options.get("mounts") or [])
    for bind in options.get("volumes") or []:
        source, target, mode = bind.rsplit(":", 2)
        mounts.append(Mount(target=target, source=source, type="bind", read_only=mode == "ro"))
    parameters = spec.linux_parameters
    for entry in parameters.get("tmpfs") or []:
        size = int(entry["size"]) * 1024 * 1024
        mounts.append(Mount(target=entry["container_path"], source=None, type="tmpfs", tmpfs_size=size))
    if parameters.get("shared_memory_size"):
        size = int(parameters["shared_memory_size"]) * 1024 * 1024
        mounts.append(Mount(target="/dev/shm", source=None, type="tmpfs", tmpfs_size=size))
    return mounts

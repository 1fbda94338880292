"""Multi-container (ecsProperties) jobs: the task's containers with SubmitJob's ecsPropertiesOverride
applied by name, AWS's rules for essential and dependsOn, and what a job needs of a compute environment
(the sum of its containers' resources). Pure; snake_case dicts as stored."""

from __future__ import annotations

from batchemu.domain import params, pods
from batchemu.domain.models import Job, Spec
from batchemu.errors import ClientException, invalid_request

CONDITIONS = ("START", "COMPLETE", "SUCCESS")


def containers(ecs_properties: Spec | None) -> list[Spec]:
    """The containers of the task (Batch allows exactly one element in taskProperties)."""
    tasks = (ecs_properties or {}).get("task_properties") or [{}]
    found: list[Spec] = tasks[0].get("containers") or []
    return found


def is_essential(container: Spec) -> bool:
    """`essential` defaults to true (TaskContainerProperties)."""
    return container.get("essential") is not False


def check_task_properties(ecs_properties: Spec) -> None:
    """RegisterJobDefinition's rules for the task's containers: unique names, at least one essential
    container, dependencies on containers of the task, and no COMPLETE/SUCCESS on an essential one (ECS's
    text, boto/boto3#2436; the other messages are chosen)."""
    found = containers(ecs_properties)
    names = [container.get("name") for container in found]
    if len(found) > 1 and any(not name for name in names):
        raise invalid_request("Each container of a multi-container job must have a name")
    if len(set(names)) != len(names):
        raise invalid_request("Container names must be unique within the task")
    if found and not any(is_essential(container) for container in found):
        raise invalid_request("A task must have at least one essential container")
    by_name = {container.get("name"): container for container in found}
    for container in found:
        for dependency in container.get("depends_on") or []:
            target = by_name.get(dependency.get("container_name"))
            if target is None or target is container:
                raise invalid_request(
                    f"Cannot depend on container '{dependency.get('container_name')}' because it does "
                    "not exist"
                )
            if dependency.get("condition") in ("COMPLETE", "SUCCESS") and is_essential(target):
                raise invalid_request(
                    "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
                    "container"
                )


def resolve_task(ecs_properties: Spec, override: Spec | None, parameters: dict[str, str]) -> Spec:
    """The job's ecsProperties: each container resolved as a single container is (Ref::, environment and
    resourceRequirements merged), with the override of the same name. An override naming no container
    of the task is refused (a choice: AWS's text is unknown)."""
    by_name: dict[str, Spec] = {}
    for task in (override or {}).get("task_properties") or []:
        for entry in task.get("containers") or []:
            by_name[entry.get("name") or ""] = entry
    task = dict((ecs_properties.get("task_properties") or [{}])[0])
    declared = containers(ecs_properties)
    unknown = sorted(set(by_name) - {container.get("name") or "" for container in declared})
    if unknown:
        raise ClientException(
            f"ecsPropertiesOverride names containers the job definition does not have: {', '.join(unknown)}"
        )
    task["containers"] = [
        params.resolve_container(container, by_name.get(container.get("name") or ""), parameters)
        for container in declared
    ]
    return {**ecs_properties, "task_properties": [task]}


def requirements(ecs_properties: Spec | None) -> params.Requirements:
    """What the task holds on its instance: the sum of its containers' vCPUs, MiB and GPUs."""
    needs = [params.requirements(container) for container in containers(ecs_properties)]
    if not needs:
        return params.requirements(None)
    return params.Requirements(
        sum(need.vcpus for need in needs),
        sum(need.memory_mib for need in needs),
        sum(need.gpus for need in needs),
    )


def job_requirements(job: Job) -> params.Requirements:
    """A job's needs: its container's, for a multi-container job the sum of its task's, for a pod what
    Kubernetes asks of a node."""
    if job.container is None and job.ecs_properties is not None:
        return requirements(job.ecs_properties)
    if job.container is None and job.eks_properties is not None:
        return pods.requirements(job.eks_properties)
    return params.requirements(job.container)


def runs_as_task(job: Job) -> bool:
    """Whether the job runs as a task of several containers (ecsProperties or an EKS pod)."""
    return job.container is None and (job.ecs_properties is not None or job.eks_properties is not None)


def job_containers(job: Job) -> list[Spec]:
    """The containers a task job runs: its ecsProperties task's, or its pod's (pods.task_containers)."""
    if job.ecs_properties is not None:
        return containers(job.ecs_properties)
    return pods.task_containers(job.eks_properties)

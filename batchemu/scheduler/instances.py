"""Container instances of MANAGED EC2/SPOT compute environments: launched from the allowed instance types
when a job needs room (smallest type that fits first, as BEST_FIT), kept at minvCpus or a requested
desiredvCpus, scaled in when idle, and terminated on purpose (a Spot interruption, a lost host), which
fails or retries the jobs on them with `Host EC2 (instance i-...) terminated.`. Jobs' vCPUs still count
against maxvCpus (capacity.py); instances may pass maxvCpus by less than one instance, as AWS allows.

Where instances come from is a NodeProvider: `SimulatedNodes` makes them up; a runner with real nodes
(a swarm) could provide its own, named after its nodes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from batchemu import arns
from batchemu.domain import retry
from batchemu.domain.instance_types import InstanceType, resolve
from batchemu.domain.models import ComputeEnvironment, Job
from batchemu.domain.params import Requirements
from batchemu.domain.states import JobEvent
from batchemu.domain.store import Backend

HOST_TERMINATED = "Host EC2 (instance {instance}) terminated."
# Chosen: how long an instance stays idle before it is terminated (AWS scales in "after a few minutes").
SCALE_IN_IDLE_SECONDS = 300.0
SCAN_MS = 1000  # how often idle instances are looked for when no job ended


@dataclass
class Instance:
    instance_id: str  # i-...
    container_instance_arn: str
    instance_type: InstanceType
    compute_environment_arn: str
    spot: bool
    launched_at: int
    idle_since: int | None = None

    def room(self, used: list[float] | None) -> tuple[float, int, int]:
        v, m, g = used or (0.0, 0, 0)
        kind = self.instance_type
        return kind.vcpus - v, kind.registered_memory_mib - int(m), kind.gpus - int(g)

    def fits(self, need: Requirements, used: list[float] | None) -> bool:
        """room(), inlined: asked for every job placed on a fleet."""
        kind = self.instance_type
        if used is None:
            return (
                need.vcpus <= kind.vcpus + 1e-9
                and need.memory_mib <= kind.registered_memory_mib
                and (need.gpus <= kind.gpus)
            )
        return (
            need.vcpus <= kind.vcpus - used[0] + 1e-9
            and need.memory_mib <= kind.registered_memory_mib - int(used[1])
            and need.gpus <= kind.gpus - int(used[2])
        )


class NodeProvider(Protocol):
    """Where instances come from: `launch` names a new one, `terminated` is told when it goes."""

    def launch(
        self, backend: Backend, environment: ComputeEnvironment, kind: InstanceType
    ) -> tuple[str, str]:
        """(EC2 instance id, container instance ARN) of a new instance of `kind`."""

    def terminated(self, instance: Instance) -> None: ...


class SimulatedNodes:
    def launch(
        self, backend: Backend, environment: ComputeEnvironment, kind: InstanceType
    ) -> tuple[str, str]:
        cluster = environment.ecs_cluster_arn or ""
        return "i-" + uuid.uuid4().hex[:17], arns.container_instance_arn(
            backend.region, backend.account, cluster
        )

    def terminated(self, instance: Instance) -> None:
        pass


def has_instances(environment: ComputeEnvironment) -> bool:
    """MANAGED EC2 and SPOT environments run on instances; Fargate and UNMANAGED count vCPUs only."""
    resources = environment.compute_resources
    return (
        environment.type == "MANAGED" and resources is not None and resources.get("type") in ("EC2", "SPOT")
    )


def fits_type(kind: InstanceType, need: Requirements) -> bool:
    return (
        need.vcpus <= kind.vcpus + 1e-9
        and need.memory_mib <= kind.registered_memory_mib
        and need.gpus <= kind.gpus
    )


@dataclass
class Fleet:
    """The instances of one compute environment."""

    environment_arn: str
    instances: dict[str, Instance] = field(default_factory=dict)  # by container instance ARN
    spare: dict[str, Instance] = field(default_factory=dict)  # those with a vCPU free, launch order
    total_vcpus: int = 0
    scanned_at: int | None = None  # when idle instances were last looked for
    _types_key: tuple[str, ...] = ()
    _types: list[InstanceType] = field(default_factory=list)
    desired_written: int | None = None  # the desiredvCpus this fleet last wrote

    def allowed(self, environment: ComputeEnvironment) -> list[InstanceType]:
        names = tuple((environment.compute_resources or {}).get("instance_types") or ["optimal"])
        if names != self._types_key:
            self._types_key, self._types = names, resolve(list(names))
        return self._types

    def vcpus(self) -> int:
        return self.total_vcpus

    def could_ever_fit(self, environment: ComputeEnvironment, need: Requirements) -> bool:
        return any(fits_type(kind, need) for kind in self.allowed(environment))


class Fleets:
    """Every compute environment's fleet; owned by the scheduler's placer."""

    def __init__(self, nodes: NodeProvider | None = None) -> None:
        self.nodes: NodeProvider = nodes or SimulatedNodes()
        self.fleets: dict[str, Fleet] = {}

    def fleet(self, environment: ComputeEnvironment) -> Fleet:
        found = self.fleets.get(environment.arn)
        if found is None:
            found = self.fleets[environment.arn] = Fleet(environment.arn)
        return found

    def restore(self, instance: Instance, desired_written: int | None = None) -> None:
        """An instance from before a restart (batchemu/instance_state.py) back in its fleet."""
        arn = instance.compute_environment_arn
        fleet = self.fleets.get(arn)
        if fleet is None:
            fleet = self.fleets[arn] = Fleet(arn)
        if instance.container_instance_arn not in fleet.instances:
            fleet.instances[instance.container_instance_arn] = instance
            fleet.spare[instance.container_instance_arn] = instance
            fleet.total_vcpus += instance.instance_type.vcpus
        if desired_written is not None:
            fleet.desired_written = desired_written

    def instance(self, container_instance_arn: str) -> Instance | None:
        for fleet in self.fleets.values():
            found = fleet.instances.get(container_instance_arn)
            if found is not None:
                return found
        return None

    def find(
        self, backend: Backend, environment: ComputeEnvironment, need: Requirements
    ) -> Instance | InstanceType | None:
        """Where `need` goes: an instance with room, else the smallest allowed type that fits (to launch,
        while the fleet is below maxvCpus); None when the job must wait."""
        fleet = self.fleet(environment)
        usage = backend.work.instance_usage
        found: Instance | None = None
        full = []
        for arn, instance in fleet.spare.items():  # not copied: a fleet may have hundreds of instances
            used = usage.get(arn)
            if instance.fits(need, used):
                found = instance
                break
            if used is not None and used[0] >= instance.instance_type.vcpus - 1e-9:
                full.append(arn)
        for arn in full:
            del fleet.spare[arn]  # full: looked at again once a job on it ends (scale)
        if found is not None:
            return found
        limit = environment.max_vcpus
        if limit is not None and fleet.vcpus() >= limit:
            idle = sum(i.instance_type.vcpus for i in self._idle(backend, fleet))
            if fleet.vcpus() - idle >= limit:
                return None
        return next((k for k in fleet.allowed(environment) if fits_type(k, need)), None)

    def launch(
        self, backend: Backend, environment: ComputeEnvironment, kind: InstanceType, now: int
    ) -> Instance:
        """A new instance of `kind`; idle instances make way when the fleet is at maxvCpus (so a job that
        needs a larger type does not wait for them to scale in)."""
        fleet = self.fleet(environment)
        limit = environment.max_vcpus
        for idle in self._idle(backend, fleet):
            if limit is None or fleet.vcpus() + kind.vcpus <= limit:
                break
            self._remove(fleet, idle)
        return self._launch(backend, environment, fleet, kind, now)

    @staticmethod
    def _idle(backend: Backend, fleet: Fleet) -> list[Instance]:
        jobs_on = backend.work.jobs_on
        return [i for arn, i in fleet.instances.items() if not jobs_on.get(arn)]

    def _launch(
        self, backend: Backend, environment: ComputeEnvironment, fleet: Fleet, kind: InstanceType, now: int
    ) -> Instance:
        instance_id, container_instance = self.nodes.launch(backend, environment, kind)
        spot = (environment.compute_resources or {}).get("type") == "SPOT"
        instance = Instance(instance_id, container_instance, kind, environment.arn, spot, now, idle_since=now)
        fleet.instances[container_instance] = instance
        fleet.spare[container_instance] = instance
        fleet.total_vcpus += kind.vcpus
        self._write_desired(environment, fleet)
        return instance

    def scale(self, backend: Backend, now: int) -> bool:
        """Per tick: fleets follow minvCpus and a requested desiredvCpus, idle instances scale in, fleets
        of deleted environments go. Instances are looked at one by one only when a job on one ended, or
        once a second of clock time (for scale-in), so an idle tick costs the environments, not the
        instances."""
        changed = False
        for environment in backend.compute_environments.values():
            if has_instances(environment):
                changed |= self._scale_one(backend, environment, now)
        backend.work.freed.clear()
        known = {e.arn for b in [backend] for e in b.compute_environments.values()}
        for arn in [arn for arn in self.fleets if arn not in known and _same_backend(arn, backend)]:
            for instance in list(self.fleets[arn].instances.values()):
                self.nodes.terminated(instance)
            del self.fleets[arn]
        return changed

    def _scale_one(self, backend: Backend, environment: ComputeEnvironment, now: int) -> bool:
        fleet = self.fleet(environment)
        resources = environment.compute_resources or {}
        minimum = int(resources.get("min_vcpus") or 0)
        desired = resources.get("desired_vcpus")
        floor = minimum
        if desired is not None and desired != fleet.desired_written:
            floor = max(floor, int(desired))  # asked for by CreateComputeEnvironment / Update...
        changed = False
        serving = environment.state == "ENABLED" and environment.status in ("VALID", "UPDATING")
        # The allowed types only when an instance must start: resolving them reads moto's records.
        while serving and fleet.vcpus() < floor and (allowed := fleet.allowed(environment)):
            self._launch(backend, environment, fleet, allowed[0], now)
            changed = True
        if not (
            backend.work.freed or not serving or fleet.scanned_at is None or now - fleet.scanned_at >= SCAN_MS
        ):
            return self._write_desired(environment, fleet) or changed
        fleet.scanned_at = now
        usage = backend.work.jobs_on
        used = backend.work.instance_usage
        fleet.spare = {
            arn: instance
            for arn, instance in fleet.instances.items()
            if (used.get(arn) or [0.0])[0] < instance.instance_type.vcpus - 1e-9
        }
        for arn, instance in list(fleet.instances.items()):
            if usage.get(arn):
                instance.idle_since = None
                continue
            if instance.idle_since is None:
                instance.idle_since = now
            idle_enough = now - instance.idle_since >= SCALE_IN_IDLE_SECONDS * 1000
            if (idle_enough or not serving) and fleet.vcpus() - instance.instance_type.vcpus >= (
                minimum if serving else 0
            ):
                self._remove(fleet, instance)
                changed = True
        if self._write_desired(environment, fleet):
            changed = True
        return changed

    def _remove(self, fleet: Fleet, instance: Instance) -> None:
        if fleet.instances.pop(instance.container_instance_arn, None) is not None:
            fleet.total_vcpus -= instance.instance_type.vcpus
        fleet.spare.pop(instance.container_instance_arn, None)
        self.nodes.terminated(instance)

    @staticmethod
    def _write_desired(environment: ComputeEnvironment, fleet: Fleet) -> bool:
        """desiredvCpus in DescribeComputeEnvironments is the vCPUs of the instances running."""
        resources = environment.compute_resources
        if resources is None:
            return False
        vcpus = fleet.vcpus()
        fleet.desired_written = vcpus
        if resources.get("desired_vcpus") == vcpus:
            return False
        resources["desired_vcpus"] = vcpus
        return True

    # -- on purpose ------------------------------------------------------------------------------
    def terminate(
        self, backend: Backend, instance: Instance, now: int, stop: Callable[[Job], None]
    ) -> list[Job]:
        """The instance goes; each job on it fails with AWS's host reason, retried by its strategy."""
        fleet = self.fleets.get(instance.compute_environment_arn)
        hit = [backend.jobs[i] for i in sorted(backend.work.jobs_on.get(instance.container_instance_arn, ()))]
        reason = HOST_TERMINATED.format(instance=instance.instance_id)
        for job in hit:
            if job.status not in ("STARTING", "RUNNING"):
                continue
            stop(job)
            again = retry.should_retry(job.retry_strategy, job.attempt_count, reason, None, None)
            if job.status == "RUNNING":
                event = JobEvent.EXITED_RETRY if again else JobEvent.EXITED_FAILURE
            else:
                event = JobEvent.START_FAILED_RETRY if again else JobEvent.START_FAILED
            backend.move(job, event, now, reason=reason, container_reason=reason)
        if fleet is not None:
            self._remove(fleet, instance)
            environment = backend.find_compute_environment(instance.compute_environment_arn)
            if environment is not None:
                self._write_desired(environment, fleet)
        return hit

    def describe(self, backend: Backend) -> list[dict]:
        """The instances of the backend's environments and the jobs on each (admin API, dashboard)."""
        rows = []
        for environment in backend.compute_environments.values():
            fleet = self.fleets.get(environment.arn)
            for instance in fleet.instances.values() if fleet else ():
                used = backend.work.instance_usage.get(instance.container_instance_arn) or [0.0, 0, 0]
                kind = instance.instance_type
                rows.append(
                    {
                        "instanceId": instance.instance_id,
                        "containerInstanceArn": instance.container_instance_arn,
                        "instanceType": kind.name,
                        "computeEnvironment": environment.name,
                        "spot": instance.spot,
                        "vcpus": kind.vcpus,
                        "registeredMemoryMiB": kind.registered_memory_mib,
                        "gpus": kind.gpus,
                        "used": {"vcpus": used[0], "memoryMiB": used[1], "gpus": used[2]},
                        "jobs": sorted(backend.work.jobs_on.get(instance.container_instance_arn, ())),
                        "launchedAt": instance.launched_at,
                    }
                )
        return rows


def _same_backend(arn: str, backend: Backend) -> bool:
    return f":{backend.region}:{backend.account}:" in arn

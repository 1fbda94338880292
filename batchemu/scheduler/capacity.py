"""Per compute environment ledger of vCPUs, memory and GPUs held by STARTING and RUNNING attempts."""

from __future__ import annotations

from dataclasses import dataclass

from batchemu.domain.models import ComputeEnvironment
from batchemu.domain.params import Requirements


@dataclass
class Usage:
    vcpus: float = 0.0
    memory_mib: int = 0
    gpus: int = 0


class CapacityLedger:
    def __init__(self) -> None:
        self._usage: dict[str, Usage] = {}

    def usage(self, compute_environment_arn: str) -> Usage:
        found = self._usage.get(compute_environment_arn)
        if found is None:
            found = self._usage[compute_environment_arn] = Usage()
        return found

    def hold(self, compute_environment_arn: str, need: Requirements) -> None:
        used = self.usage(compute_environment_arn)
        used.vcpus += need.vcpus
        used.memory_mib += need.memory_mib
        used.gpus += need.gpus

    def release(self, compute_environment_arn: str, need: Requirements) -> None:
        used = self.usage(compute_environment_arn)
        used.vcpus = max(0.0, used.vcpus - need.vcpus)
        used.memory_mib = max(0, used.memory_mib - need.memory_mib)
        used.gpus = max(0, used.gpus - need.gpus)

    def fits_now(
        self, environment: ComputeEnvironment, need: Requirements, reserved_fraction: float = 0.0
    ) -> bool:
        """Whether `need` fits what is left of maxvCpus, keeping `reserved_fraction` of it free."""
        limit = environment.max_vcpus
        if limit is None:
            return True
        return self.usage(environment.arn).vcpus + need.vcpus <= limit * (1 - reserved_fraction) + 1e-9

    @staticmethod
    def could_ever_fit(environment: ComputeEnvironment, need: Requirements) -> bool:
        limit = environment.max_vcpus
        return limit is None or need.vcpus <= limit + 1e-9

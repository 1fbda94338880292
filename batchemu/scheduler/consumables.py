"""Consumable resources limit how many jobs run at once: a job is placed only when every resource in its
consumableResourceProperties has the quantity it asks for left. REPLENISHABLE quantities come back when
a job ends; NON_REPLENISHABLE ones are taken off the total when a job starts (by the settle step of the
consumable-resource handlers, which runs before placement on every tick)."""

from __future__ import annotations

from batchemu.domain.models import Job
from batchemu.domain.store import Backend

KIND = "consumable-resource"


def needs(job: Job) -> dict[str, int]:
    """Resource name -> quantity the job asks for (references may be names or ARNs)."""
    wanted: dict[str, int] = {}
    for entry in (job.consumable_resource_properties or {}).get("consumable_resource_list") or []:
        name = str(entry.get("consumable_resource") or "").rsplit(f"{KIND}/", 1)[-1]
        wanted[name] = wanted.get(name, 0) + int(entry.get("quantity") or 0)
    return wanted


class ConsumableLedger:
    """What is left of each consumable resource during one placement pass."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._records = backend.extras.get(KIND, {})
        self._taken: dict[str, int] | None = None  # counted on first use: most jobs ask for none

    def _count(self) -> dict[str, int]:
        if self._taken is None:
            self._taken = {}
            for status in ("STARTING", "RUNNING"):
                for job in self._backend.jobs_by_status[status].values():
                    if job.current_attempt is None:
                        continue
                    for name, quantity in needs(job).items():
                        record = self._records.get(name)
                        if record is not None and record.get("resource_type") != "NON_REPLENISHABLE":
                            self._taken[name] = self._taken.get(name, 0) + quantity
        return self._taken

    def fits(self, job: Job) -> bool:
        if not job.consumable_resource_properties:  # most jobs ask for none
            return True
        wanted = needs(job)
        if not wanted:
            return True
        taken = self._count()
        for name, quantity in wanted.items():
            record = self._records.get(name)
            if record is None or int(record.get("total_quantity", 0)) - taken.get(name, 0) < quantity:
                return False
        return True

    def hold(self, job: Job) -> None:
        if not job.consumable_resource_properties:
            return
        wanted = needs(job)
        if not wanted:
            return
        taken = self._count()
        for name, quantity in wanted.items():
            taken[name] = taken.get(name, 0) + quantity

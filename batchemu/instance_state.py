"""The container instances of MANAGED EC2/SPOT compute environments in the state directory (instances.json)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import uuid
from typing import Any

from batchemu.domain.instance_types import catalogue
from batchemu.domain.models import Job
from batchemu.domain.params import Requirements
from batchemu.domain.store import Store
from batchemu.scheduler.instances import Fleets, Instance, fits_type, has_instances

log = logging.getLogger("batchemu.persistence")
FILE_NAME = "instances.json"
VERSION = 1
_LIVE = ("STARTING", "RUNNING")


class InstanceFile:
    """Written beside the SQLite file whenever the instances change (a whole new file put in place with
    os.replace, so a crash leaves the old one or the new one), read back at start-up. Without fsync, as
    the SQLite file's synchronous=NORMAL: a crash of the process loses nothing, a power cut may."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, FILE_NAME)
        self._written: list[Any] | None = None
        self._lock = threading.Lock()

    def load(self, fleets: Fleets, now: int) -> int:
        """Puts the saved instances back into `fleets`; returns how many. An unreadable file is a warning,
        is moved aside (instances.json.unreadable) and gives no instances (they are launched again as jobs
        need them): never a failed start."""
        try:
            with open(self.path, encoding="utf-8") as file:
                text = file.read()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as error:
            return self._unreadable(f"cannot be read ({error})")
        try:
            data = json.loads(text)
            version = data.get("version") if isinstance(data, dict) else None
            if version != VERSION:
                return self._unreadable(
                    f"has format version {version!r}; this batchemu reads version {VERSION}"
                )
            restored = _decode(data, now)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return self._unreadable(f"is not a valid instance list ({type(error).__name__}: {error})")
        for instance, desired_written in restored:
            fleets.restore(instance, desired_written)
        self._written = _snapshot(fleets)
        log.info("loaded %d instances from %s", len(restored), self.path)
        return len(restored)

    def _unreadable(self, why: str) -> int:
        aside = f"{self.path}.unreadable"
        try:
            os.replace(self.path, aside)
            kept = f"; it is kept as {aside}"
        except OSError:
            kept = ""
        log.warning("%s %s: starting without the instances it held%s", self.path, why, kept)
        return 0

    def save(self, store: Store, fleets: Fleets) -> None:
        """Writes the instances when they changed since the last write."""
        with store.lock, self._lock:
            snapshot = _snapshot(fleets)
            if snapshot == self._written:
                return
            body = json.dumps({"version": VERSION, "fleets": _encode(snapshot)}, separators=(",", ":"))
            handle, temporary = tempfile.mkstemp(prefix=f"{FILE_NAME}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(body)
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(temporary)
                raise
            self._written = snapshot

    def clear(self) -> None:
        with self._lock:
            self._written = None
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)


def _snapshot(fleets: Fleets) -> list[Any]:
    """What is saved, as tuples (cheap to compare on every save)."""
    return [
        (
            arn,
            fleet.desired_written,
            [
                (
                    i.instance_id,
                    i.container_instance_arn,
                    i.instance_type.name,
                    i.spot,
                    i.launched_at,
                    i.idle_since,
                )
                for i in fleet.instances.values()
            ],
        )
        for arn, fleet in fleets.fleets.items()
    ]


def _encode(snapshot: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "environment_arn": arn,
            "desired_written": desired_written,
            "instances": [
                {
                    "instance_id": instance_id,
                    "container_instance_arn": container_instance_arn,
                    "instance_type": kind,
                    "spot": spot,
                    "launched_at": launched_at,
                    "idle_since": idle_since,
                }
                for instance_id, container_instance_arn, kind, spot, launched_at, idle_since in instances
            ],
        }
        for arn, desired_written, instances in snapshot
    ]


def _decode(data: dict[str, Any], now: int) -> list[tuple[Instance, int | None]]:
    """Every instance first (a bad entry refuses the whole file); a type the catalogue no longer has is
    left out with a warning. An idle time after `now` (a clock that went back) becomes `now`."""
    types = catalogue().types
    found = []
    for fleet in data["fleets"]:
        arn = str(fleet["environment_arn"])
        desired = fleet.get("desired_written")
        for item in fleet["instances"]:
            kind = types.get(item["instance_type"])
            if kind is None:
                log.warning(
                    "saved instance %s has an unknown type %s; left out",
                    item["instance_id"],
                    item["instance_type"],
                )
                continue
            idle_since = item.get("idle_since")
            instance = Instance(
                instance_id=str(item["instance_id"]),
                container_instance_arn=str(item["container_instance_arn"]),
                instance_type=kind,
                compute_environment_arn=arn,
                spot=bool(item["spot"]),
                launched_at=int(item["launched_at"]),
                idle_since=None if idle_since is None else min(int(idle_since), now),
            )
            found.append((instance, None if desired is None else int(desired)))
    return found


def adopt_unknown(store: Store, fleets: Fleets, now: int) -> list[Instance]:
    """Live jobs on a container instance no fleet has (saved by a batchemu without instances.json, or a
    crash between the two writes) get that instance back: the smallest allowed type holding them all
    (the largest allowed when none does), so they are accounted where they run."""
    adopted = []
    with store.lock:
        for backend in store.backends():
            on: dict[str, list[Job]] = {}
            for status in _LIVE:
                for job in backend.jobs_by_status[status].values():
                    attempt = job.current_attempt
                    arn = attempt.container.container_instance_arn if attempt is not None else None
                    if arn is not None and fleets.instance(arn) is None:
                        on.setdefault(arn, []).append(job)
            for arn, jobs in on.items():
                first = jobs[0].current_attempt
                assert first is not None
                environment = backend.find_compute_environment(first.compute_environment_arn)
                if environment is None or not has_instances(environment):
                    continue
                allowed = fleets.fleet(environment).allowed(environment)  # smallest first
                if not allowed:
                    continue
                attempts = [job.current_attempt for job in jobs if job.current_attempt is not None]
                need = Requirements(
                    sum(a.vcpus for a in attempts),
                    sum(a.memory for a in attempts),
                    sum(a.gpus for a in attempts),
                )
                kind = next((k for k in allowed if fits_type(k, need)), allowed[-1])
                fleet = fleets.fleet(environment)
                desired = (environment.compute_resources or {}).get("desired_vcpus")
                if fleet.desired_written is None and desired is not None:
                    fleet.desired_written = int(desired)  # a batchemu wrote it: not a new request
                spot = (environment.compute_resources or {}).get("type") == "SPOT"
                started = min((a.started_at or now) for a in attempts)
                instance = Instance("i-" + uuid.uuid4().hex[:17], arn, kind, environment.arn, spot, started)
                fleets.restore(instance)
                adopted.append(instance)
                log.warning(
                    "container instance %s (jobs %s) was not saved; it is back as %s %s",
                    arn,
                    ", ".join(job.id for job in jobs),
                    kind.name,
                    instance.instance_id,
                )
    return adopted

"""The optional state directory: every resource and job kept in SQLite (standard library), written as they
change (changed jobs after each tick and request; resources compared with what was last written), and
loaded back at start-up."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from batchemu.domain.models import (
    Attempt,
    ComputeEnvironment,
    ComputeEnvironmentOrder,
    ContainerAttempt,
    Dependency,
    Job,
    JobDefinition,
    JobQueue,
    SchedulingPolicy,
    TaskContainerAttempt,
)
from batchemu.domain.store import Backend, Store

log = logging.getLogger("batchemu.persistence")
FILE_NAME = "batchemu.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    account TEXT, region TEXT, kind TEXT, key TEXT, body TEXT, PRIMARY KEY (account, region, kind, key));
CREATE TABLE IF NOT EXISTS jobs (account TEXT, region TEXT, id TEXT, body TEXT, PRIMARY KEY (account, region, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def encode(value: Any) -> Any:
    """Dataclasses as plain JSON values; a live attempt's runner handle is never saved."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "run_handle"
        }
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    return value


def decode_attempt(data: dict[str, Any]) -> Attempt:
    tasks = [TaskContainerAttempt(**item) for item in data.get("task_containers", [])]
    return Attempt(**{**data, "container": ContainerAttempt(**data["container"]), "task_containers": tasks})


def decode_job(data: dict[str, Any]) -> Job:
    fields = dict(data)
    fields["attempts"] = [decode_attempt(item) for item in data.get("attempts", [])]
    fields["current_attempt"] = (
        decode_attempt(data["current_attempt"]) if data.get("current_attempt") else None
    )
    fields["depends_on"] = [Dependency(**item) for item in data.get("depends_on", [])]
    fields["history"] = [tuple(item) for item in data.get("history", [])]
    return Job(**fields)


def decode_job_queue(data: dict[str, Any]) -> JobQueue:
    order = [ComputeEnvironmentOrder(**item) for item in data.get("compute_environment_order", [])]
    return JobQueue(**{**data, "compute_environment_order": order})


_KINDS: dict[str, tuple[Callable[[Backend], dict[str, Any]], Callable[[dict[str, Any]], Any]]] = {
    "compute-environment": (lambda b: b.compute_environments, lambda data: ComputeEnvironment(**data)),
    "job-queue": (lambda b: b.job_queues, decode_job_queue),
    "scheduling-policy": (lambda b: b.scheduling_policies, lambda data: SchedulingPolicy(**data)),
}


class StateDir:
    def __init__(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = os.path.join(path, FILE_NAME)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._written: dict[tuple[str, str, str, str], str] = {}
        self._lock = threading.Lock()
        self.identity = self._identity()

    def _identity(self) -> str:
        """A random id made once per state directory: it labels the containers this directory may
        re-attach after a restart, wherever the directory is mounted."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        if row is not None:
            return str(row[0])
        identity = secrets.token_hex(8)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('identity', ?)", (identity,))
        return str(self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()[0])

    def attach(self, store: Store) -> None:
        """Loads what was saved into `store` and tracks its changes from now on."""
        with store.lock:
            self._load(store)
            store.tracks_changes = True
            for backend in store.backends():
                backend.changed_jobs = set()

    def _load(self, store: Store) -> None:
        for account, region, kind, key, body in self._db.execute(
            "SELECT account, region, kind, key, body FROM resources"
        ):
            backend = store.backend(account, region)
            data = json.loads(body)
            self._written[(account, region, kind, key)] = body
            if kind in _KINDS:
                collection, build = _KINDS[kind]
                collection(backend)[key] = build(data)
            elif kind == "job-definition":
                backend.job_definitions[key] = [JobDefinition(**item) for item in data]
            elif kind.startswith("extra:"):
                backend.extras.setdefault(kind[len("extra:") :], {})[key] = data
        loaded = 0
        for account, region, body in self._db.execute("SELECT account, region, body FROM jobs"):
            backend = store.backend(account, region)
            job = decode_job(json.loads(body))
            backend.index(job)
            backend.job_sequence = max(backend.job_sequence, job.sequence)
            loaded += 1
        for backend in store.backends():  # the status index lists jobs in submission order
            for status, jobs in backend.jobs_by_status.items():
                backend.jobs_by_status[status] = dict(sorted(jobs.items(), key=lambda item: item[1].sequence))
        log.info("loaded %d jobs and %d resources from %s", loaded, len(self._written), self.path)

    def save(self, store: Store, resources: bool = True) -> None:
        """Writes changed jobs, and (when `resources`) every resource whose saved form changed."""
        with store.lock, self._lock:
            self._db.execute("BEGIN")
            try:
                for backend in store.backends():
                    self._save_jobs(backend)
                if resources:
                    self._save_resources(store)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _save_jobs(self, backend: Backend) -> None:
        changed = backend.changed_jobs
        if not changed:
            return
        rows = [
            (backend.account, backend.region, job_id, json.dumps(encode(backend.jobs[job_id])))
            for job_id in changed
            if job_id in backend.jobs
        ]
        self._db.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)", rows)
        changed.clear()

    def _save_resources(self, store: Store) -> None:
        current: dict[tuple[str, str, str, str], str] = {}
        for backend in store.backends():
            for kind, key, value in _resources(backend):
                current[(backend.account, backend.region, kind, key)] = json.dumps(encode(value))
        changed = [(*key, body) for key, body in current.items() if self._written.get(key) != body]
        gone = [key for key in self._written if key not in current]
        self._db.executemany("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?)", changed)
        self._db.executemany("DELETE FROM resources WHERE account=? AND region=? AND kind=? AND key=?", gone)
        self._written = current

    def clear(self) -> None:
        with self._lock:
            self._db.executescript("DELETE FROM resources; DELETE FROM jobs;")
            self._written.clear()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _resources(backend: Backend) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    found += [("compute-environment", k, v) for k, v in backend.compute_environments.items()]
    found += [("job-queue", k, v) for k, v in backend.job_queues.items()]
    found += [("scheduling-policy", k, v) for k, v in backend.scheduling_policies.items()]
    found += [("job-definition", k, v) for k, v in backend.job_definitions.items()]
    for kind, records in backend.extras.items():
        found += [(f"extra:{kind}", k, v) for k, v in records.items()]
    return found

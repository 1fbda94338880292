"""The one state store: a SQLite file (standard library) holding Batch's resources, jobs and container
instances (written in one transaction after each tick and mutating request) and the pickled backends of
every moto service the endpoint serves (written by moto_saver.py); loaded back at start-up. A file that
is not a database, or one of another program or format, is moved aside with a warning. The only module
that writes disk state."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from batchemu import instance_codec
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
from batchemu.scheduler.instances import Fleets

log = logging.getLogger("batchemu.persistence")
FILE_NAME = "batchemu.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    account TEXT, region TEXT, kind TEXT, key TEXT, body TEXT, PRIMARY KEY (account, region, kind, key));
CREATE TABLE IF NOT EXISTS jobs (account TEXT, region TEXT, id TEXT, body TEXT, PRIMARY KEY (account, region, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS instances (key TEXT PRIMARY KEY, body TEXT);
CREATE TABLE IF NOT EXISTS moto (kind TEXT, account TEXT, region TEXT, body BLOB, PRIMARY KEY (kind, account, region));
CREATE TABLE IF NOT EXISTS moto_aside (kind TEXT, account TEXT, region TEXT, body BLOB, why TEXT, at REAL);
"""
FORMAT = "2"  # 1: resources and jobs only (read as 2: its tables are the same)
_COLUMNS = {
    "resources": ["account", "region", "kind", "key", "body"],
    "jobs": ["account", "region", "id", "body"],
    "meta": ["key", "value"],
}
MotoKey = tuple[str, str, str]  # (kind, account, region)


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


class Unusable(Exception):
    """The file is not a state store this batchemu reads."""


def _open(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        _check_foreign(db)
        db.executescript(_SCHEMA)
        return db
    except BaseException:
        db.close()
        raise


def _check_foreign(db: sqlite3.Connection) -> None:
    """A database with tables of another shape, or of a newer format, is not ours to change."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, columns in _COLUMNS.items():
        if table in tables:
            found = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            if found != columns:
                raise Unusable(f"its table {table} has columns {found}, not {columns}")
    if tables and "meta" not in tables:
        raise Unusable(f"it holds tables {sorted(tables)} of another program")
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is not None and row[0] != FORMAT:
            raise Unusable(f"it has format {row[0]}; this batchemu reads format {FORMAT}")


def check_file(path: str) -> None:
    """Raises Unusable when `path` is not a state file this batchemu reads (for imports)."""
    try:
        _open(path).close()
    except sqlite3.DatabaseError as error:
        raise Unusable(f"not a SQLite database ({error})") from None


def set_aside(path: str, why: str) -> str:
    """Moves a state file (and its WAL files) to PATH.unreadable-<time>; returns the new name."""
    aside = f"{path}.unreadable-{int(time.time())}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    log.warning("%s %s: it is kept as %s and this server starts with an empty state", path, why, aside)
    return aside


class StateDir:
    def __init__(self, path: str, file_name: str = FILE_NAME) -> None:
        os.makedirs(path, exist_ok=True)
        self.path = os.path.join(path, file_name)
        try:
            self._db = _open(self.path)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
        except (sqlite3.DatabaseError, Unusable) as error:
            set_aside(self.path, f"is not a batchemu state file ({error})")
            self._db = _open(self.path)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
        self._written: dict[tuple[str, str, str, str], str] = {}
        self._instances_written: list[Any] | None = None
        self._moto_written: dict[MotoKey, int] = {}
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

    # -- Batch -------------------------------------------------------------------------------------
    def attach(self, store: Store, fleets: Fleets | None = None, now: int = 0) -> None:
        """Loads what was saved into `store` (and the instances into `fleets`) and tracks its changes
        from now on. Rows that cannot be read make the whole file be set aside: a start, never a crash."""
        with store.lock:
            try:
                self._load(store)
                if fleets is not None:
                    self._load_instances(fleets, now)
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                store.reset()
                if fleets is not None:
                    fleets.fleets.clear()
                self._reopen_empty(f"holds a row this batchemu cannot read ({type(error).__name__}: {error})")
            store.tracks_changes = True
            for backend in store.backends():
                backend.changed_jobs = set()

    def _reopen_empty(self, why: str) -> None:
        with self._lock:
            self._db.close()
            set_aside(self.path, why)
            self._db = _open(self.path)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)", (self.identity,))
            self._written.clear()
            self._instances_written = None
            self._moto_written.clear()

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

    def _load_instances(self, fleets: Fleets, now: int) -> None:
        row = self._db.execute("SELECT body FROM instances WHERE key = 'fleets'").fetchone()
        if row is None:
            return
        count = instance_codec.restore(fleets, json.loads(row[0]), now)
        self._instances_written = instance_codec.snapshot(fleets)
        log.info("loaded %d instances from %s", count, self.path)

    def save(self, store: Store, resources: bool = True, fleets: Fleets | None = None) -> None:
        """Writes changed jobs, (when `resources`) every resource whose saved form changed, and the
        instances when they changed: one transaction."""
        with store.lock, self._lock:
            self._db.execute("BEGIN")
            try:
                for backend in store.backends():
                    self._save_jobs(backend)
                if resources:
                    self._save_resources(store)
                if fleets is not None:
                    self._save_instances(fleets)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def save_all(self, store: Store, fleets: Fleets) -> None:
        """Writes every job, resource and instance (a snapshot into a new file, or after an import)."""
        with store.lock:
            for backend in store.backends():
                if backend.changed_jobs is None:
                    backend.changed_jobs = set()
                backend.changed_jobs.update(backend.jobs)
            self._written.clear()
            self._instances_written = None
            self.save(store, True, fleets)
            if not store.tracks_changes:
                for backend in store.backends():
                    backend.changed_jobs = None

    def _save_instances(self, fleets: Fleets) -> None:
        saved = instance_codec.snapshot(fleets)
        if saved != self._instances_written:
            body = json.dumps(instance_codec.encode(saved), separators=(",", ":"))
            self._db.execute("INSERT OR REPLACE INTO instances VALUES ('fleets', ?)", (body,))
            self._instances_written = saved

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

    # -- moto ----------------------------------------------------------------------------------------
    def moto_rows(self) -> dict[MotoKey, bytes]:
        with self._lock:
            return {
                (kind, account, region): bytes(body)
                for kind, account, region, body in self._db.execute(
                    "SELECT kind, account, region, body FROM moto"
                )
            }

    def moto_version(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'moto'").fetchone()
        return None if row is None else str(row[0])

    def save_moto(self, kinds: list[str], rows: dict[MotoKey, bytes], version: str) -> int:
        """Replaces the saved backends of `kinds` by `rows` (rows whose bytes did not change are not
        written again); returns the bytes written."""
        written = 0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for key in [key for key in self._moto_written if key[0] in kinds and key not in rows]:
                    self._db.execute("DELETE FROM moto WHERE kind=? AND account=? AND region=?", key)
                    del self._moto_written[key]
                for key, body in rows.items():
                    digest = hash(body)
                    if self._moto_written.get(key) != digest:
                        self._db.execute("INSERT OR REPLACE INTO moto VALUES (?, ?, ?, ?)", (*key, body))
                        self._moto_written[key] = digest
                        written += len(body)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('moto', ?)", (version,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return written

    def set_moto_aside(self, refused: list[tuple[MotoKey, str]]) -> None:
        """Rows that cannot be loaded move to the moto_aside table (kept for a look, never loaded)."""
        with self._lock:
            for key, why in refused:
                self._db.execute(
                    "INSERT INTO moto_aside SELECT kind, account, region, body, ?, ? FROM moto "
                    "WHERE kind=? AND account=? AND region=?",
                    (why, time.time(), *key),
                )
                self._db.execute("DELETE FROM moto WHERE kind=? AND account=? AND region=?", key)
                self._moto_written.pop(key, None)

    def remember_moto(self, rows: dict[MotoKey, bytes]) -> None:
        """What was loaded is what is on disk: an unchanged backend is not written again."""
        with self._lock:
            self._moto_written.update({key: hash(body) for key, body in rows.items()})

    def clear(self) -> None:
        with self._lock:
            self._db.executescript(
                "DELETE FROM resources; DELETE FROM jobs; DELETE FROM instances; DELETE FROM moto;"
            )
            self._written.clear()
            self._instances_written = None
            self._moto_written.clear()

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

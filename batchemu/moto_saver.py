"""When and what of moto's state is saved into the state store: a service changed by a request is saved
in that request's thread before its answer goes out (`after_request`); services that change without a
request of their own (job log lines written in-process, what an EventBridge rule or S3 notification
delivers, executions running in moto's interpreter) are marked and saved within FLUSH_SECONDS by the
scheduler loop (`flush_due`), and at shutdown. A save writes each backend's shell when it changed and,
of the collections kept entry by entry (moto_parts.py), only the entries the request changed: its cost
does not grow with what the service holds. Loads what was saved at start-up, before anything is served."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from batchemu import moto_log_streams, moto_parts, moto_state
from batchemu.integrations.moto_writes import Scope
from batchemu.moto_log_streams import TrackedStreams
from batchemu.moto_parts import Path
from batchemu.persistence import CollectionKey, MotoKey, MotoWrite, StateDir

log = logging.getLogger("batchemu.persistence")
FLUSH_SECONDS = 1.0
SAVES_EVERYTHING = ("cloudformation",)
# A write to the key changes, besides itself, what moto delivers to from it, in-process.
CASCADE = {
    "events": ("sqs", "sns", "logs", "lambda", "stepfunctions", "kinesis", "firehose"),
    "s3": ("sqs", "sns", "lambda", "logs"),
    "sns": ("sqs", "lambda", "logs"),
    "sqs": ("lambda", "logs"),
    "dynamodb": ("lambda", "logs"),
    "lambda": ("logs",),
    "scheduler": ("sqs", "sns", "lambda", "stepfunctions", "events"),
}


@dataclass
class Saved:
    """A collection as it is on disk: saved from `value` (held, so that its id is not another's),
    its entries' digests (and fingerprints, moto_parts.fingerprint), and for a list (log events) how many
    items were saved."""

    value: Any
    entries: dict[str, int] = field(default_factory=dict)
    length: int = 0
    marks: dict[str, Any] = field(default_factory=dict)
    inner: dict[str, dict[Path, Saved]] = field(default_factory=dict)  # by entry: its collections

    def every_path(self, path: Path) -> list[Path]:
        """This collection's path and those of the collections inside its entries."""
        return [path] + [inner for held in self.inner.values() for inner in held]


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


class MotoSaver:
    def __init__(self, state: StateDir) -> None:
        moto_log_streams.install()
        self.state = state
        self._lock = threading.Lock()  # one snapshot + write at a time: the last written is the newest
        self._dirty: set[str] = set()
        self._failing: set[str] = set()
        self._next_flush = 0.0
        self.saves = 0
        self.bytes_written = 0

    def load(self) -> set[str]:
        """Puts the saved backends back into moto; returns the services loaded. Backends saved by another
        moto version, or that cannot be read, are set aside (table moto_aside) with a warning."""
        rows = self.state.moto_rows()
        if not rows:
            return set()
        version, saved = _moto_version(), self.state.moto_version()
        if saved is not None and saved != version:
            why = f"saved by moto {saved}; this server runs moto {version}"
            log.warning("the state of %d moto backends was %s: set aside, not loaded", len(rows), why)
            self.state.set_moto_aside([(key, why) for key in rows])
            return set()
        started = time.perf_counter()
        loaded = moto_state.restore(rows, self.state.moto_entry_rows())
        for key, why in loaded.refused:
            log.warning("saved moto backend %s (account %s, region %s) cannot be loaded: %s", *key, why)
        for collection, name, why in loaded.refused_entries:
            log.warning(
                "saved entry %s of moto's %s %s cannot be loaded: %s",
                name,
                collection[0],
                list(collection[3]),
                why,
            )
        self.state.set_moto_aside(loaded.refused)
        self.state.set_entries_aside(loaded.refused_entries)
        refused = dict(loaded.refused)
        self.state.remember_moto({key: body for key, body in rows.items() if key not in refused})
        self._remember_loaded(loaded)
        log.info(
            "loaded %s from %s in %.0f ms",
            ", ".join(sorted(loaded.services)) or "no moto service",
            self.state.path,
            (time.perf_counter() - started) * 1000,
        )
        return loaded.services

    def _remember_loaded(self, loaded: moto_state.Loaded) -> None:
        """What was loaded is what is on disk: unchanged entries are not written again."""
        left_out = {(collection, name) for collection, name, _ in loaded.refused_entries}
        made: dict[CollectionKey, Saved] = {}
        for key, (value, held) in loaded.collections.items():
            path = key[3]
            saved = made[key] = Saved(value, length=len(value) if moto_parts.is_list(path) else 0)
            for name, body in held.items():
                if (key, name) not in left_out:
                    saved.entries[name] = hash(body)
                    if moto_parts.has_fingerprint(path):
                        saved.marks[name] = moto_parts.fingerprint(path, moto_parts.entry(path, value, name))
        for key, saved in made.items():
            parent = moto_parts.parent(key[3])
            if parent is None:
                self.state.moto_saved.setdefault(key[:3], {})[key[3]] = saved
            elif (*key[:3], parent[0]) in made:
                made[(*key[:3], parent[0])].inner.setdefault(parent[1], {})[key[3]] = saved

    def after_request(self, service: str, scope: Scope | None = None) -> None:
        """`service` was changed by a request (`scope`: what of it, moto_writes.scope_of): saved now; what
        it delivers to is saved soon. A stack operation changes the services of its resources in the same
        call: all are saved now."""
        service = moto_state.canonical(service)
        if service in SAVES_EVERYTHING:
            self.save_everything()
            return
        self.save(service, scope)
        self._dirty.update(CASCADE.get(service, ()))

    def touch(self, service: str) -> None:
        self._dirty.add(service)

    def flush_due(self) -> None:
        """Saves the marked services when FLUSH_SECONDS passed since the last flush."""
        now = time.monotonic()
        if now >= self._next_flush:
            self._next_flush = now + FLUSH_SECONDS
            self.flush()

    def flush(self) -> None:
        if moto_state.has_running_executions():
            self._dirty.add("stepfunctions")
        while self._dirty:
            self.save(self._dirty.pop())

    def save_everything(self) -> None:
        for service in services_in_use():
            self.save(service)

    def save(self, service: str, scope: Scope | None = None) -> None:
        """Saves `service`: every backend's shell, and the entries of its collections that `scope` (None:
        any) and the collections themselves say changed."""
        service = moto_state.canonical(service)
        with self._lock:
            try:
                failing = service in self._failing
                write, saved = self._changes(service, scope or Scope(), scope is None or failing, failing)
                self.bytes_written += self.state.save_moto(write, _moto_version())
                for key in [key for key in self.state.moto_saved if key[0] in write.kinds]:
                    del self.state.moto_saved[key]  # a backend that is gone, or saved anew below
                self.state.moto_saved.update(saved)
                self.saves += 1
                self._failing.discard(service)
            except Exception:
                kinds = set(moto_state.backend_dicts(service))
                for key, collections in self.state.moto_saved.items():
                    if key[0] in kinds:  # unknown now: written again whole, next time
                        self.state.moto_saved[key] = {path: Saved(None) for path in collections}
                if service not in self._failing:  # once per failing spell, not once per request
                    log.exception("could not save moto's %s state; it will not survive a restart", service)
                self._failing.add(service)

    def _changes(
        self, service: str, scope: Scope, deep: bool, failing: bool
    ) -> tuple[MotoWrite, dict[MotoKey, dict[Path, Saved]]]:
        write = MotoWrite(kinds=list(moto_state.backend_dicts(service)))
        saved: dict[MotoKey, dict[Path, Saved]] = {}
        for key, backend in moto_state.backends_of(service):
            before = self.state.moto_saved.get(key, {})
            found = moto_parts.collections(key[0], backend)
            named = moto_parts.dynamodb_items(backend, list(scope.items)) if scope.items else {}
            streams: dict[Path, set[str]] = {}  # log streams that say which changed: those only
            for collection in found:
                tracked = collection.path in before and before[collection.path].value is collection.value
                if collection.path[0] == "keys" and tracked:  # (a new one is written whole)
                    changed = moto_parts.drain_changed_keys(collection.value)
                    named[collection.path] = changed
                    named.setdefault(("tags",), set()).update(moto_parts.tag_names(collection.value, changed))
                elif isinstance(collection.value, TrackedStreams):
                    changed = collection.value.drain()  # (a new one is written whole: drained all the same)
                    if tracked:
                        streams[collection.path] = changed
            write.shells[key] = moto_state.dump_shell(backend, found)
            refs = {id(c.value): c.path for c in found} | moto_parts.anchors(key[0], backend)
            now = {collection.path: collection.value for collection in found}
            structural = before.keys() != now.keys() or any(before[p].value is not now[p] for p in now)
            saved[key] = {}
            for collection in found:
                path = collection.path
                every = (
                    deep
                    or (path[0] == "uploads" and scope.uploads)
                    or (path[0] == "tags" and (scope.tags or structural))  # a bucket came or went
                )
                names: set[str] | None = named.get(path, set())
                if path in streams:
                    names, every = streams[path], failing
                elif moto_parts.has_fingerprint(path):
                    names = None
                ckey = (*key, path)
                saved[key][path] = _collection(
                    write, ckey, collection.value, before.get(path), names, every, refs
                )
            for path in before:  # a bucket, table or log group that is gone
                if path not in now:
                    write.dropped.extend((*key, inner) for inner in before[path].every_path(path))
        return write, saved


def _collection(
    write: MotoWrite,
    key: CollectionKey,
    value: Any,
    before: Saved | None,
    names: set[str] | None,
    every: bool,
    refs: dict[int, Path],
) -> Saved:
    """Adds to `write` what changed in one collection since it was saved (`before`): the entries `names`,
    or `every` entry, or (`names` None) those whose fingerprint changed, with the collections inside them;
    returns it as saved."""
    new = False
    if before is None or before.value is not value:  # new, or replaced by another of the same name
        if before is not None:
            write.dropped.extend((*key[:3], path) for path in before.every_path(key[3]))
        before, new = Saved(value), True
    path = key[3]
    if moto_parts.is_list(path):
        return _list_changes(write, key, before, value)
    digests = before.entries  # changed in place: a save that fails forgets what was saved (save())
    if new or every or names is None:
        current = dict(moto_parts.entries(path, value))
        every_name = set(current) | set(digests)
        if not new and moto_parts.has_fingerprint(path):  # a fingerprint tells which changed
            every_name = {
                name
                for name in every_name
                if name not in current
                or before.marks.get(name) != moto_parts.fingerprint(path, current[name])
            }
        names = every_name
    else:
        current = {name: moto_parts.entry(path, value, name) for name in names}
    for name in names:
        item = current.get(name, moto_parts.MISSING)
        if item is moto_parts.MISSING:
            if name in digests:
                write.entries[(key, name)] = None
                del digests[name]
            before.marks.pop(name, None)
            write.dropped.extend((*key[:3], inner) for inner in before.inner.pop(name, {}))
            continue
        _entry(write, key, before, name, item, refs)
    return before


def _entry(
    write: MotoWrite, key: CollectionKey, saved: Saved, name: str, item: Any, refs: dict[int, Path]
) -> None:
    """Writes one entry when its bytes changed, and what changed in the collections inside it."""
    path = key[3]
    inside = moto_parts.nested(path, name, item)
    refs = refs | {id(collection.value): collection.path for collection in inside} if inside else refs
    body = moto_state.dump_referring(item, refs)
    digest = hash(body)
    if saved.entries.get(name) != digest:
        write.entries[(key, name)] = body
        saved.entries[name] = digest
    mark = moto_parts.fingerprint(path, item)
    if mark is not None:
        saved.marks[name] = mark
    held = saved.inner.setdefault(name, {})
    for collection in inside:
        ckey = (*key[:3], collection.path)
        names: set[str] | None = None if moto_parts.has_fingerprint(collection.path) else set()
        held[collection.path] = _collection(
            write, ckey, collection.value, held.get(collection.path), names, False, refs
        )


def _list_changes(write: MotoWrite, key: CollectionKey, before: Saved, value: list[Any]) -> Saved:
    """A list's items never change once added (log events): the items past those saved are written as
    one more entry, named by the index of its first; a list that got shorter is written again whole."""
    length, start = len(value), before.length
    if length < start:
        write.dropped.append(key)
        start = 0
    if length > start:
        write.entries[(key, f"{start:012d}")] = moto_state.dump_retrying(value[start:length])
    return Saved(value, {}, length)


def services_in_use() -> list[str]:
    """The services moto holds state for (a BackendDict with at least one account)."""
    from moto.core.base_backend import BackendDict

    every: list[Any] = list(BackendDict._instances)  # type: ignore[misc]
    found = [backends.service_name for backends in every if dict.__len__(backends)]
    return sorted(set(found) - {"stepfunctions-parser"})

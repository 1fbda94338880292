"""moto's backends, service by service, as the bytes the state store keeps (persistence.py writes them):
pickled with the standard library, what cannot be pickled handled explicitly (locks and threads come back
new, weak dictionaries and lambda-made defaultdicts as their contents, Docker clients as None), and put
back into moto's BackendDicts at start-up. A backend's shell refers to the collections kept entry by entry
(moto_parts.py) by their paths (pickle's persistent ids); at start-up each is made empty and filled from
its entries. Imports moto lazily, moto_parts and the standard library only.

Step Functions executions that were RUNNING when the state was saved come back ABORTED (error
`batchemu.Restarted`): an interpreter's thread does not survive its process, and re-running the steps
already taken could submit a job twice."""

from __future__ import annotations

import collections
import datetime
import io
import logging
import pickle
import sys
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from batchemu import moto_parts

log = logging.getLogger("batchemu.persistence")
RESTARTED_ERROR = "batchemu.Restarted"
RESTARTED_CAUSE = (
    "The server stopped while the execution was running; executions do not resume after a restart"
)
_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())
_ATTEMPTS = 3  # a snapshot taken while another thread changes a dict is taken again
MotoKey = tuple[str, str, str]  # (kind, account, region)
CollectionKey = tuple[str, str, str, tuple[str, ...]]  # (kind, account, region, path)


# -- which BackendDicts hold a service --------------------------------------------------------------
NOT_SAVED = ("moto_api", "instance_metadata")  # moto's own admin routes: no state of a service
_CANONICAL = {"awslambda": "lambda"}  # moto's dispatcher names Lambda by its package


def canonical(service: str) -> str:
    return _CANONICAL.get(service, service)


def backend_dicts(service: str) -> dict[str, Any]:
    """The BackendDicts holding `service`'s state, by the name they are saved under; {} for a name moto
    has no backend for."""
    from moto.backends import get_backend

    service = canonical(service)
    if service in NOT_SAVED:
        return {}

    try:
        found: dict[str, Any] = {service: get_backend(service)}  # type: ignore[call-overload]
    except (ImportError, KeyError, ValueError, AttributeError):
        return {}
    if service == "stepfunctions":  # executions run in the interpreter's backends (moto_stepfunctions)
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        found["stepfunctions-parser"] = stepfunctions_parser_backends
    return found


def service_of(kind: str) -> str:
    """The service a saved kind belongs to (stepfunctions-parser -> stepfunctions)."""
    return kind.split("-parser")[0]


# -- pickling ----------------------------------------------------------------------------------------
def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _nothing() -> None:
    return None


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _default_dict(factory: Any, items: dict[Any, Any]) -> collections.defaultdict[Any, Any]:
    return collections.defaultdict(factory, items)


class _Pickler(pickle.Pickler):
    """pickle.Pickler with the reductions moto's backends need."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is _LOCK or kind is _RLOCK:
            return _new_lock, (kind is _RLOCK,)
        if kind is collections.defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            # moto's `defaultdict(lambda: {})`: the factory's result type is the factory that comes back
            return _default_dict, (type(obj.default_factory()), dict(obj))
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj.items()),)
        if isinstance(obj, threading.Thread) or kind.__module__.split(".")[0] == "docker":
            return _nothing, ()
        return NotImplemented


def dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


class _ShellPickler(_Pickler):
    """Pickles a backend without the collections kept entry by entry: each is a reference to its path."""

    def __init__(self, file: io.BytesIO, paths: dict[int, tuple[str, ...]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._paths = paths

    def persistent_id(self, obj: Any) -> Any:
        return self._paths.get(id(obj))


def dump_shell(backend: Any, collections: list[moto_parts.Collection]) -> bytes:
    """The backend without `collections` (which stay alive meanwhile: their ids are theirs)."""
    return dump_referring(backend, {id(collection.value): collection.path for collection in collections})


def dump_referring(value: Any, refs: dict[int, tuple[str, ...]]) -> bytes:
    """`value` pickled with the objects of `refs` (by id) as references to their paths."""
    if not refs:  # pickle's persistent_id costs a call per object: only where it is needed
        return dump_retrying(value)
    for attempt in range(_ATTEMPTS):
        buffer = io.BytesIO()
        try:
            _ShellPickler(buffer, refs).dump(value)
            return buffer.getvalue()
        except RuntimeError:  # "dictionary changed size during iteration": another request wrote
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def dump_retrying(value: Any) -> bytes:
    for attempt in range(_ATTEMPTS):
        try:
            return dumps(value)
        except RuntimeError:  # "dictionary changed size during iteration": another request wrote
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# -- restoring -------------------------------------------------------------------------------------------
@dataclass
class Loaded:
    """What restore() put back: services, collections (each with its entries' bytes), and what it refused."""

    services: set[str] = field(default_factory=set)
    collections: dict[CollectionKey, tuple[Any, dict[str, bytes]]] = field(default_factory=dict)
    refused: list[tuple[MotoKey, str]] = field(default_factory=list)
    refused_entries: list[tuple[CollectionKey, str, str]] = field(default_factory=list)


class _Unpickler(pickle.Unpickler):
    """Resolves a reference to a path by `resolve` (a collection made empty, or an anchor)."""

    def __init__(self, body: bytes, resolve: Any) -> None:
        super().__init__(io.BytesIO(body))
        self._resolve = resolve

    def persistent_load(self, pid: Any) -> Any:
        return self._resolve(tuple(pid))


def load_backend(body: bytes, entries: dict[tuple[str, ...], dict[str, bytes]]) -> tuple[Any, Loaded]:
    """One saved backend: its shell, with each collection it refers to (and each collection its entries
    refer to) filled from `entries` ({path: {entry: bytes}}); entries that cannot be read are left out
    (Loaded.refused_entries, kind and account blank)."""
    made: dict[tuple[str, ...], Any] = {}
    waiting: list[tuple[str, ...]] = []
    backend: Any = None

    def resolve(path: tuple[str, ...]) -> Any:
        if moto_parts.is_anchor(path):
            return moto_parts.anchor(backend, path)
        if path not in made:
            made[path] = moto_parts.empty(path)
            waiting.append(path)
        return made[path]

    backend = _Unpickler(body, resolve).load()  # our own state directory, written by this module
    loaded = Loaded()
    while waiting:
        path = waiting.pop(0)
        value, held = made[path], entries.get(path, {})
        for name in sorted(held):
            try:
                item = _Unpickler(held[name], resolve).load()
                if moto_parts.is_list(path):
                    value.extend(item)
                else:
                    moto_parts.put(path, value, name, item)
            except Exception as error:
                why = f"{type(error).__name__}: {error}"
                loaded.refused_entries.append((("", "", "", path), name, why))
        loaded.collections[("", "", "", path)] = (value, held)
    return backend, loaded


def restore(
    rows: dict[MotoKey, bytes], entry_rows: dict[CollectionKey, dict[str, bytes]] | None = None
) -> Loaded:
    """Puts saved backends (shells and their collections' entries) back into moto; returns what was
    restored and what could not be read, each with why (the caller sets them aside)."""
    by_backend: dict[MotoKey, dict[tuple[str, ...], dict[str, bytes]]] = {}
    for (kind, account, region, path), held in (entry_rows or {}).items():
        by_backend.setdefault((kind, account, region), {})[path] = held
    result = Loaded()
    for (kind, account, region), body in sorted(rows.items()):
        key = (kind, account, region)
        backends = backend_dicts(service_of(kind)).get(kind)
        if backends is None:
            result.refused.append((key, "this moto has no such service"))
            continue
        try:
            backend, loaded = load_backend(body, by_backend.get(key, {}))
        except Exception as error:
            result.refused.append((key, f"{type(error).__name__}: {error}"))
            continue
        if not isinstance(backend, backends.backend):
            result.refused.append((key, f"holds a {type(backend).__name__}"))
            continue
        dict.__setitem__(backends[account], region, backend)
        result.services.add(service_of(kind))
        for (_, _, _, path), made in loaded.collections.items():
            result.collections[(kind, account, region, path)] = made
        for (_, _, _, path), name, why in loaded.refused_entries:
            result.refused_entries.append(((kind, account, region, path), name, why))
    _after_restore(result.services)
    return result


def _after_restore(services: set[str]) -> None:
    if "s3" in services:
        _index_buckets()
    if "stepfunctions" in services:
        _abort_running_executions()


def _index_buckets() -> None:
    """moto's S3 keeps one bucket namespace (bucket name -> partition, account) beside its backends."""
    from moto.s3.models import s3_backends

    for account, regions in dict.items(s3_backends):
        for partition, backend in dict.items(regions):
            for name in backend.buckets:
                s3_backends.bucket_accounts[name] = (partition, account)


def _abort_running_executions() -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    now = datetime.datetime.now(tz=datetime.UTC)
    for regions in dict.values(stepfunctions_parser_backends):
        for backend in dict.values(regions):
            for execution in backend._get_executions():
                if getattr(execution, "exec_status", None) == ExecutionStatus.RUNNING:
                    execution.exec_status = ExecutionStatus.ABORTED
                    execution.stop_date = now
                    execution.error = RESTARTED_ERROR
                    execution.cause = RESTARTED_CAUSE
                    execution.exec_worker = None
                    log.warning(
                        "execution %s was running when the server stopped: ABORTED", execution.exec_arn
                    )


def has_running_executions() -> bool:
    """True while an execution runs in moto's interpreter (its state changes without a request)."""
    if "moto.stepfunctions.parser.models" not in sys.modules:  # none ran: not imported for this
        return False
    try:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    except ImportError:
        return False
    return any(
        str(getattr(getattr(execution, "exec_status", None), "value", "")) == "RUNNING"
        for regions in list(dict.values(stepfunctions_parser_backends))
        for backend in list(dict.values(regions))
        for machine in list(getattr(backend, "state_machines", []))
        for execution in list(getattr(machine, "executions", []))
    )


def backends_of(service: str) -> list[tuple[MotoKey, Any]]:
    """Every (account, region) backend of `service`, by (kind, account, region)."""
    found: list[tuple[MotoKey, Any]] = []
    for kind, backends in backend_dicts(service).items():
        for account, regions in list(dict.items(backends)):
            for region, backend in list(dict.items(regions)):
                found.append(((kind, account, region), backend))
    return found


__all__ = [
    "RESTARTED_ERROR",
    "Loaded",
    "backend_dicts",
    "backends_of",
    "dump_referring",
    "dump_retrying",
    "dump_shell",
    "dumps",
    "has_running_executions",
    "load_backend",
    "restore",
]

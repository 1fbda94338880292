"""moto's backends, service by service, as the bytes the state store keeps (persistence.py writes them):
pickled with the standard library, what cannot be pickled handled explicitly (locks and threads come back
new, weak dictionaries and lambda-made defaultdicts as their contents, Docker clients as None), and put
back into moto's BackendDicts at start-up. Imports moto lazily and the standard library only.

Step Functions executions that were RUNNING when the state was saved come back ABORTED (error
`batchemu.Restarted`): an interpreter's thread does not survive its process, and re-running the steps
already taken could submit a job twice."""

from __future__ import annotations

import collections
import datetime
import io
import logging
import pickle
import threading
import weakref
from typing import Any

log = logging.getLogger("batchemu.persistence")
RESTARTED_ERROR = "batchemu.Restarted"
RESTARTED_CAUSE = (
    "The server stopped while the execution was running; executions do not resume after a restart"
)
_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())
_ATTEMPTS = 3  # a snapshot taken while another thread changes a dict is taken again


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


def snapshot(service: str) -> dict[tuple[str, str, str], bytes]:
    """Every (account, region) backend of `service`: {(kind, account, region): bytes}."""
    rows: dict[tuple[str, str, str], bytes] = {}
    for kind, backends in backend_dicts(service).items():
        for account, regions in list(dict.items(backends)):
            for region, backend in list(dict.items(regions)):
                rows[(kind, account, region)] = _dump_retrying(backend)
    return rows


def _dump_retrying(backend: Any) -> bytes:
    for attempt in range(_ATTEMPTS):
        try:
            return dumps(backend)
        except RuntimeError:  # "dictionary changed size during iteration": another request wrote
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# -- restoring -------------------------------------------------------------------------------------------
def restore(
    rows: dict[tuple[str, str, str], bytes],
) -> tuple[set[str], list[tuple[tuple[str, str, str], str]]]:
    """Puts saved backends back into moto; returns the services restored and the rows that could not be
    read, each with why (the caller sets them aside)."""
    restored: set[str] = set()
    refused: list[tuple[tuple[str, str, str], str]] = []
    for (kind, account, region), body in sorted(rows.items()):
        backends = backend_dicts(service_of(kind)).get(kind)
        if backends is None:
            refused.append(((kind, account, region), "this moto has no such service"))
            continue
        try:
            backend = pickle.loads(body)  # noqa: S301 - our own state directory, written by this module
        except Exception as error:
            refused.append(((kind, account, region), f"{type(error).__name__}: {error}"))
            continue
        if not isinstance(backend, backends.backend):
            refused.append(((kind, account, region), f"holds a {type(backend).__name__}"))
            continue
        dict.__setitem__(backends[account], region, backend)
        restored.add(service_of(kind))
    _after_restore(restored)
    return restored, refused


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


__all__ = ["RESTARTED_ERROR", "backend_dicts", "dumps", "has_running_executions", "restore", "snapshot"]

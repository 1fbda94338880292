"""The only place batchemu changes moto's EventBridge Scheduler: schedule changes are reported to moto_watch
(so the active emulator arms their timers) and expressions AWS refuses are refused. It may import moto
(lazily), the standard library, the pure schedule_expressions and moto_watch.

Hook points (tested with moto 5.2.5): `EventBridgeSchedulerBackend.create_schedule`, `update_schedule`,
`delete_schedule` and `delete_schedule_group`. moto stores schedules without looking at their expression;
AWS refuses a malformed one with `ValidationException: Invalid Schedule Expression <expression>.`
(localstack/localstack#9284 quotes AWS), which create and update now raise in moto's error shape. Without
the hook points a warning is logged and schedules never fire, as before.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
from typing import Any

from batchemu.domain.schedule_expressions import InvalidExpression, parse_schedule_expression
from batchemu.integrations import moto_watch
from batchemu.integrations.moto_events import existing_backend
from batchemu.integrations.moto_hooks import hook_methods, moto_version
from batchemu.integrations.moto_imports import after_import

log = logging.getLogger("batchemu.schedules")

_HOOKS = ("create_schedule", "update_schedule", "delete_schedule", "delete_schedule_group")
_installed: bool | None = None
_lock = threading.Lock()


def install_schedule_hooks() -> None:
    """Once per process, when moto's EventBridge Scheduler is imported (moto_imports)."""
    after_import(("moto.scheduler",), _install)


def _install() -> bool:
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        _installed = False
        if moto_version("EventBridge Scheduler schedules") is None:
            return False
        from moto.scheduler import models

        _installed = hook_methods(
            "schedules will not fire",
            getattr(models, "EventBridgeSchedulerBackend", None),
            "EventBridgeSchedulerBackend",
            _HOOKS,
            _hook,
        )
        return _installed


def _hook(original: Any, operation: str) -> Any:
    signature = inspect.signature(original)

    def hooked(backend: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(backend, *args, **kwargs).arguments
        expression = arguments.get("schedule_expression")
        if operation in ("create_schedule", "update_schedule"):
            _validate(expression)
        result = original(backend, *args, **kwargs)
        account, region = backend.account_id, backend.region_name
        if operation == "delete_schedule_group":
            key: moto_watch.Key = ("group", account, region, str(arguments.get("name") or "default"))
        else:
            group = str(arguments.get("group_name") or "default")
            key = ("schedule", account, region, group, str(arguments.get("name")))
        moto_watch.notify(key)
        return result

    hooked.__wrapped__ = original  # type: ignore[attr-defined]
    return hooked


def _validate(expression: Any) -> None:
    try:
        parse_schedule_expression(str(expression or ""))
    except InvalidExpression:
        from moto.scheduler.exceptions import ValidationException

        raise ValidationException(f"Invalid Schedule Expression {expression}.") from None


def _backends() -> Any:
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends


def find_schedule(account: str, region: str, group: str, name: str) -> Any:
    """moto's Schedule, or None."""
    backend = existing_backend(_backends(), account, region)
    found = backend.schedule_groups.get(group) if backend is not None else None
    return found.schedules.get(name) if found is not None else None


def all_schedules() -> list[tuple[str, str, Any]]:
    """(account, region, schedule) for every schedule this process's moto holds."""
    if "moto.scheduler.models" not in sys.modules:
        return []  # never imported: it holds none
    found: list[tuple[str, str, Any]] = []
    for account, by_region in list(dict.items(_backends())):
        for region, backend in list(dict.items(by_region)):
            for group in list(backend.schedule_groups.values()):
                found.extend((account, region, schedule) for schedule in list(group.schedules.values()))
    return found


def delete_schedule(account: str, region: str, group: str, name: str) -> None:
    """Deletes a schedule that completed (ActionAfterCompletion DELETE), as Scheduler itself does."""
    backend = existing_backend(_backends(), account, region)
    found = backend.schedule_groups.get(group) if backend is not None else None
    if found is not None:
        found.schedules.pop(name, None)

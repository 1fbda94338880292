"""Which emulator of this process arms the timers of moto's scheduled rules and Scheduler schedules: moto
keeps one store per process, so exactly one watcher may fire them - the newest live one. Its hooks
(moto_events, moto_scheduler) report changes here; when the active watcher changes (a newer emulator
binds, the active one stops or is collected) the old one drops its timers and the new one arms everything
moto holds. Imports the standard library only."""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Protocol

from batchemu.integrations.moto_hooks import Registry

log = logging.getLogger("batchemu.schedules")

# What changed: ("rule", account, region, name), ("schedule", account, region, group, name) or
# ("group", account, region, group) for a deleted schedule group.
Key = tuple[str, ...]


class ScheduleWatcher(Protocol):
    def changed(self, key: Key) -> None: ...

    def activate(self) -> None: ...

    def deactivate(self) -> None: ...

    def deliver_event_target(self, rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
        """A matched event for a target moto cannot serve (Lambda, Step Functions): enqueue only."""


_watchers: Registry[Any] = Registry()
_active: weakref.ref[Any] | None = None
_lock = threading.Lock()


def register_watcher(watcher: ScheduleWatcher) -> None:
    """`watcher` becomes the active one (held weakly)."""
    _watchers.add(watcher)
    active_watcher()


def unregister_watcher(watcher: ScheduleWatcher) -> None:
    """`watcher` fires nothing more; the newest other live watcher takes over."""
    _watchers.remove(watcher)
    active_watcher()


def active_watcher() -> ScheduleWatcher | None:
    """The newest live watcher, switched to (old one deactivated, new one activated) when it changed."""
    global _active
    with _lock:
        newest = _watchers.newest()
        previous = _active() if _active is not None else None
        if newest is previous:
            return newest
        _active = weakref.ref(newest) if newest is not None else None
    for call, who in ((_deactivate, previous), (_activate, newest)):
        if who is not None:
            call(who)
    return newest


def notify(key: Key) -> None:
    """A rule or schedule was created, changed or deleted (called from moto's request threads)."""
    watcher = active_watcher()
    if watcher is not None:
        try:
            watcher.changed(key)
        except Exception:
            log.exception("could not re-arm %s", "/".join(key))


def _activate(watcher: ScheduleWatcher) -> None:
    try:
        watcher.activate()
    except Exception:
        log.exception("could not arm moto's rules and schedules")


def _deactivate(watcher: ScheduleWatcher) -> None:
    try:
        watcher.deactivate()
    except Exception:
        log.exception("could not drop the timers of a replaced emulator")

"""Which of moto's log streams changed since the state store last saved them. With --state-dir, a log
group's streams are a TrackedStreams (made so when moto makes the group, or when a saved group is loaded):
it records the names of streams set, dropped, or given events (moto's LogStream.put_log_events, wrapped),
after the change, so a save looks at those streams only instead of comparing every stream's fingerprint
(24 ms a save at 10,000 streams). Imports moto lazily."""

from __future__ import annotations

import functools
import threading
from typing import Any

_installed = False
_install_lock = threading.Lock()


class TrackedStreams(dict):  # type: ignore[type-arg]
    """A log group's {name: LogStream}, recording which names changed (by any thread) until drained."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changed_lock = threading.Lock()
        self._changed: set[str] = set(self)

    def mark(self, *names: str) -> None:
        with self._changed_lock:
            self._changed.update(names)

    def drain(self) -> set[str]:
        """The names changed since the last drain."""
        with self._changed_lock:
            changed, self._changed = self._changed, set()
        return changed

    def __setitem__(self, name: str, stream: Any) -> None:
        super().__setitem__(name, stream)
        self.mark(name)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.mark(name)

    def pop(self, name: str, *default: Any) -> Any:
        try:
            return super().pop(name, *default)
        finally:
            self.mark(name)

    def popitem(self) -> tuple[str, Any]:
        name, stream = super().popitem()
        self.mark(name)
        return name, stream

    def setdefault(self, name: str, default: Any = None) -> Any:
        found = super().setdefault(name, default)
        self.mark(name)
        return found

    def update(self, *args: Any, **kwargs: Any) -> None:
        before = set(self)
        super().update(*args, **kwargs)
        self.mark(*(set(self) | before))

    def clear(self) -> None:
        names = list(self)
        super().clear()
        self.mark(*names)

    def __reduce_ex__(self, protocol: Any) -> Any:  # by value, without the lock
        return (TrackedStreams, (dict(self),))


def install() -> None:
    """Wraps moto's LogGroup (its streams become a TrackedStreams) and LogStream.put_log_events (marks its
    stream as changed), once moto's logs models are imported."""
    from batchemu.integrations.moto_imports import after_import

    after_import(("moto.logs.models",), _wrap, at_once=True)


def _wrap() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    from moto.logs import models

    made = models.LogGroup.__init__
    put = models.LogStream.put_log_events

    @functools.wraps(made)
    def group_init(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        if type(getattr(self, "streams", None)) is dict:
            self.streams = TrackedStreams(self.streams)

    @functools.wraps(put)
    def put_log_events(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return put(self, *args, **kwargs)
        finally:
            streams = getattr(getattr(self, "log_group", None), "streams", None)
            if isinstance(streams, TrackedStreams):
                streams.mark(self.log_stream_name)

    models.LogGroup.__init__ = group_init  # type: ignore[method-assign]
    models.LogStream.put_log_events = put_log_events  # type: ignore[method-assign]


__all__ = ["TrackedStreams", "install"]

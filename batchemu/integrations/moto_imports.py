"""Runs batchemu's hooks into a moto service right after that service is first imported, whoever imports it
(this server's moto app, moto's own mock_aws, a user's code), and before anything can use it: importing
moto and its services costs a user who only calls Batch up to a second, so nothing imports them ahead of
need. Standard library only."""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("batchemu.moto")
_lock = threading.Lock()
_waiting: dict[str, list[_Once]] = {}  # module name -> hooks to run once it is imported
_finder: _AfterImport | None = None


class _Thread(threading.local):
    """One thread's imports of moto modules in progress (through the finder), and the hooks whose module
    it has imported: they run when its outermost import is done. Per thread: another thread's import in
    progress must not hold back the hooks of a module this thread is about to use."""

    def __init__(self) -> None:
        self.importing = 0
        self.due: list[_Once] = []
        self.running = False  # one of its hooks runs: hooks due meanwhile (its imports') run after it


_thread = _Thread()


def after_import(modules: tuple[str, ...], hook: Callable[[], object], at_once: bool = False) -> None:
    """Calls `hook` (once) when the first of `modules` has been imported: at once if one already is, else
    as soon as the importing thread's imports of moto modules then in progress have ended (still inside
    its outermost `import` statement, before it can use what it imported). With `at_once`, right after
    the module itself is made, under its import lock (no other thread can use it before): for a hook
    that needs nothing but that module."""
    with _lock:
        loaded = any(_imported(name) for name in modules)
        if not loaded:
            once = _Once(hook, at_once)
            for name in modules:
                _waiting.setdefault(name, []).append(once)
            _arm()
    if loaded:
        hook()


def _imported(name: str) -> bool:
    """In sys.modules and not still being imported."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


class _Once:
    def __init__(self, hook: Callable[[], object], at_once: bool = False) -> None:
        self._hook: Callable[[], object] | None = hook
        self.at_once = at_once

    def __call__(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            try:
                hook()
            except Exception:  # a failed hook leaves moto as it is; the import itself must not fail
                log.exception("could not hook moto after its import")


def _arm() -> None:
    global _finder
    if _finder is None:
        _finder = _AfterImport()
        sys.meta_path.insert(0, _finder)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Watches moto's modules being imported while hooks wait. A hook runs once its module has been
    imported and no import of a moto module is in progress: moto's modules import each other in circles,
    and a hook run inside such an import would find its neighbours half made."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if not (_waiting or _thread.due) or not (name == "moto" or name.startswith("moto.")):
            return None
        spec = _spec_without_self(name, path)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            mine = _thread
            mine.importing += 1
            try:
                original(module)
            finally:
                mine.importing -= 1
                with _lock:
                    ready = _waiting.pop(name, [])
                mine.due.extend(hook for hook in ready if not hook.at_once)
                for hook in ready:
                    if hook.at_once:
                        hook()
                if mine.importing == 0 and not mine.running:  # never one hook inside another
                    mine.running = True
                    try:
                        while mine.due:
                            mine.due.pop(0)()
                    finally:
                        mine.running = False

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _spec_without_self(name: str, path: Any) -> Any:
    """The spec the other finders give `name`."""
    for finder in sys.meta_path:
        if isinstance(finder, _AfterImport) or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(name, path)
        if spec is not None:
            return spec
    return None

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
_waiting: dict[str, list[Callable[[], object]]] = {}  # module name -> hooks to run once it is imported
_due: list[Callable[[], object]] = []  # their module is imported; they run when moto's imports are done
_importing = 0  # imports of moto modules in progress (through the finder)
_finder: _AfterImport | None = None


def after_import(modules: tuple[str, ...], hook: Callable[[], object]) -> None:
    """Calls `hook` (once) when the first of `modules` has been imported: at once if one already is, else
    as soon as the imports of moto modules in progress then have ended (still inside the outermost one's
    `import` statement, before anything can use what it imported)."""
    with _lock:
        loaded = any(_imported(name) for name in modules)
        if not loaded:
            once = _Once(hook)
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
    def __init__(self, hook: Callable[[], object]) -> None:
        self._hook: Callable[[], object] | None = hook

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
        if not (_waiting or _due) or not (name == "moto" or name.startswith("moto.")):
            return None
        spec = _spec_without_self(name, path)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            global _importing
            with _lock:
                _importing += 1
            try:
                original(module)
            finally:
                with _lock:
                    _importing -= 1
                    _due.extend(_waiting.pop(name, []))
                    hooks = list(_due) if _importing == 0 else []
                    if hooks:
                        _due.clear()
                for hook in hooks:
                    hook()

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

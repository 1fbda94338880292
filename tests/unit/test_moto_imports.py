"""integrations/moto_imports.after_import: a hook runs before the importing thread can use its module,
whatever other threads are importing (fake moto modules made from source by a finder of the test's own)."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu.integrations.moto_imports import after_import

SOURCES = {
    "moto.batchemu_fake_slow": "import threading\nSTARTED.set()\nRELEASE.wait(5)\n",
    "moto.batchemu_fake_target": "CALLS = []\n",
    "moto.batchemu_fake_outer": (
        "import moto.batchemu_fake_inner\nSEEN = list(moto.batchemu_fake_inner.CALLS)\n"
    ),
    "moto.batchemu_fake_inner": "CALLS = []\n",
}
STARTED, RELEASE = threading.Event(), threading.Event()


class _Source(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(name, self) if name in SOURCES else None

    def exec_module(self, module: Any) -> None:
        module.STARTED, module.RELEASE = STARTED, RELEASE
        exec(SOURCES[module.__name__], module.__dict__)


@pytest.fixture(autouse=True)
def fake_modules() -> Iterator[None]:
    import moto  # noqa: F401  (the package the fakes live in)

    finder = _Source()
    sys.meta_path.append(finder)
    yield
    sys.meta_path.remove(finder)
    RELEASE.set()
    for name in SOURCES:
        sys.modules.pop(name, None)


def test_another_threads_import_in_progress_does_not_hold_back_the_hook() -> None:
    after_import(("moto.batchemu_fake_slow",), lambda: None)  # arms the finder for the slow import too
    slow = threading.Thread(target=lambda: __import__("moto.batchemu_fake_slow"))
    slow.start()
    assert STARTED.wait(5)
    after_import(
        ("moto.batchemu_fake_target",), lambda: sys.modules["moto.batchemu_fake_target"].CALLS.append(1)
    )
    import moto.batchemu_fake_target as target  # type: ignore[import-not-found]

    assert target.CALLS == [1]  # while the other thread is still importing
    RELEASE.set()
    slow.join(5)


def test_an_at_once_hook_runs_before_the_module_importing_it_goes_on() -> None:
    after_import(
        ("moto.batchemu_fake_inner",),
        lambda: sys.modules["moto.batchemu_fake_inner"].CALLS.append("hooked"),
        at_once=True,
    )
    import moto.batchemu_fake_outer as outer  # type: ignore[import-not-found]

    assert outer.SEEN == ["hooked"]


def test_a_hook_that_imports_runs_the_hooks_of_its_imports_after_itself() -> None:
    """A hook holding a lock imports a module whose hook takes the same lock (two servers' Lambda hooks):
    the second runs once the first has ended, instead of inside it (a deadlock)."""
    SOURCES["moto.batchemu_fake_a"] = "CALLS = []\n"
    SOURCES["moto.batchemu_fake_b"] = "CALLS = []\n"
    lock = threading.Lock()
    order: list[str] = []

    def first() -> None:
        with lock:
            import moto.batchemu_fake_b  # type: ignore[import-not-found]  # noqa: F401

            order.append("first")

    def second() -> None:
        with lock:
            order.append("second")

    after_import(("moto.batchemu_fake_a",), first)
    after_import(("moto.batchemu_fake_b",), second)
    importing = threading.Thread(target=lambda: __import__("moto.batchemu_fake_a"), daemon=True)
    importing.start()
    importing.join(5)
    assert not importing.is_alive(), "deadlocked"
    assert order == ["first", "second"]

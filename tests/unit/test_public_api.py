"""batchemu's public surface: `__all__` is exactly what the package exports, and every name in it resolves."""

from __future__ import annotations
import __future__

import re
import types

import batchemu


def exported_names() -> set[str]:
    """Public names bound in the package namespace; submodules (bound as a side effect of importing
    them) and `from __future__` features are not exports."""
    return {
        name
        for name, value in vars(batchemu).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    } | {"__version__"}


def test_all_lists_exactly_the_exported_names() -> None:
    assert sorted(batchemu.__all__) == sorted(exported_names())


def test_all_has_no_duplicates() -> None:
    assert len(batchemu.__all__) == len(set(batchemu.__all__))


def test_every_name_in_all_resolves() -> None:
    missing = [name for name in batchemu.__all__ if not hasattr(batchemu, name)]
    assert missing == []


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from batchemu import *", namespace)
    namespace.pop("__builtins__", None)
    assert sorted(namespace) == sorted(batchemu.__all__)


def test_the_emulator_and_version_are_public() -> None:
    assert {"Emulator", "__version__"} <= set(batchemu.__all__)
    assert isinstance(batchemu.Emulator, type)


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d*)?", batchemu.__version__)


def test_public_names_are_not_private_modules() -> None:
    assert [name for name in batchemu.__all__ if isinstance(getattr(batchemu, name), types.ModuleType)] == []

"""batchemu's public surface: `__all__` is exactly what the package exports, and every name in it resolves."""

from __future__ import annotations
import __future__

import re
import types

import batchemu


def exported_names() -> set[str]:
    """Public names bound in the package namespace once every lazy export has loaded; submodules (bound
    as a side effect of importing them), `from __future__` features and typing helpers are not exports."""
    for name in batchemu.__all__:
        getattr(batchemu, name)
    return {
        name
        for name, value in vars(batchemu).items()
        if not name.startswith("_")
        and name not in ("TYPE_CHECKING", "Any", "annotations", "importlib")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    } | {"__version__"}


def test_importing_the_package_loads_no_server_code() -> None:
    import subprocess
    import sys

    code = "import sys, batchemu; print('batchemu.server' in sys.modules, 'boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


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

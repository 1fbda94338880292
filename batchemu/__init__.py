"""batchemu: a local, faithful, fast emulator of AWS Batch. The public names load on first use, so that
importing the package (as the pytest plugin does in every test run) stays cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Emulator", "ServerThread", "create_app", "mock_batch", "__version__"]

_WHERE = {
    "Emulator": "batchemu.emulator",
    "ServerThread": "batchemu.server",
    "create_app": "batchemu.server",
    "mock_batch": "batchemu.testing",
}

if TYPE_CHECKING:
    from batchemu.emulator import Emulator
    from batchemu.server import ServerThread, create_app
    from batchemu.testing import mock_batch


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'batchemu' has no attribute {name!r}")

"""batchemu: a local, faithful, fast emulator of AWS Batch."""

__version__ = "0.1.0"

from batchemu.emulator import Emulator  # noqa: E402
from batchemu.server import ServerThread, create_app  # noqa: E402

__all__ = ["Emulator", "ServerThread", "create_app", "__version__"]

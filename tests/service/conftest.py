"""Fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from batchemu import Emulator
from batchemu.scheduler import resources as settling


@pytest.fixture
def paused(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Takes resource settling off the scheduler's tick, so CREATING/UPDATING/DELETING can be seen; the
    returned function settles them. The tick reads its settlers under the store lock, so none slips in."""
    kept = [settle for settle in emulator.scheduler.settlers if settle is not settling.settle]
    monkeypatch.setattr(emulator.scheduler, "settlers", kept)

    def settle() -> None:
        with emulator.store.lock:
            for backend in emulator.store.backends():
                settling.settle(backend, emulator.clock.now())

    return settle

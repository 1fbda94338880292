"""The scheduler loop: it keeps ticking while jobs move, and waits a tick interval only when they stop."""

from __future__ import annotations

import threading
import time

from batchemu import Emulator
from batchemu.config import Settings


def test_the_loop_goes_on_without_waiting_a_tick_interval_while_every_tick_moves_something() -> None:
    emulator = Emulator(Settings(runner="simulated", tick_interval=30.0))
    calls: list[float] = []
    done = threading.Event()

    def step() -> bool:  # 250 ticks that move jobs (more than one round of the loop), then none
        calls.append(time.monotonic())
        if len(calls) > 250:
            done.set()
            return False
        return True

    emulator.step = step  # type: ignore[method-assign]
    emulator.start()
    try:
        emulator.wake()
        assert done.wait(timeout=5.0), f"stalled after {len(calls)} ticks"
    finally:
        emulator.stop()
    assert len(calls) >= 251

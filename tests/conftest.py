"""Shared fixtures: an in-process emulator on a FakeClock served on a free loopback port, and boto3 clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import make_client


@pytest.fixture(scope="session")
def server() -> Iterator[ServerThread]:
    emulator = Emulator.for_tests()
    with ServerThread(emulator) as running:
        yield running


@pytest.fixture
def emulator(server: ServerThread) -> Iterator[Emulator]:
    """The served emulator, reset before each test. Its scheduler loop also runs in the background;
    call emulator.run_until_idle() to settle deterministically."""
    server.emulator.reset()
    yield server.emulator
    server.emulator.reset()


@pytest.fixture
def batch(server: ServerThread, emulator: Emulator):  # type: ignore[no-untyped-def]
    """A boto3 Batch client for the in-process server (state reset for each test)."""
    return make_client(server.endpoint)

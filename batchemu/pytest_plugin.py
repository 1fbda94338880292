"""The pytest plugin (entry point `pytest11: batchemu`; disable with `-p no:batchemu`): fixtures
`batchemu_endpoint` (session), `batch_client` and `batchemu` (a BatchemuHandle; state reset before each
test unless marked `batchemu_keep_state`). Nothing starts, and nothing heavy is imported, until a test
uses one of them.

Options: `--batchemu-endpoint URL` (or env BATCHEMU_ENDPOINT) uses a running server instead of an
in-process one; ini `batchemu_runner` (simulated, the default, on a fake clock; process or docker on the
system clock) chooses the in-process runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from batchemu.testing import BatchemuHandle

KEEP_STATE_MARKER = "batchemu_keep_state"
ENDPOINT_VARIABLE = "BATCHEMU_ENDPOINT"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("batchemu", "batchemu (local AWS Batch emulator)")
    group.addoption(
        "--batchemu-endpoint",
        dest="batchemu_endpoint",
        default=None,
        metavar="URL",
        help=f"use the batchemu server at URL instead of starting one in-process (env {ENDPOINT_VARIABLE})",
    )
    parser.addini(
        "batchemu_runner",
        "runner of the in-process server: simulated (default; fake clock), process or docker (system clock)",
        default="simulated",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{KEEP_STATE_MARKER}: do not reset batchemu's state before this test")


@pytest.fixture(scope="session")
def _batchemu_session(request: pytest.FixtureRequest) -> Iterator[BatchemuHandle]:
    from batchemu.testing import BatchemuHandle, serve_in_process

    endpoint = request.config.getoption("batchemu_endpoint") or os.environ.get(ENDPOINT_VARIABLE)
    if endpoint:
        handle = BatchemuHandle(endpoint)
        try:
            handle.health()
        except (ConnectionError, LookupError, RuntimeError) as error:
            raise pytest.UsageError(f"--batchemu-endpoint {endpoint}: {error}") from None
        yield handle
        return
    runner = str(request.config.getini("batchemu_runner") or "simulated").strip()
    server = serve_in_process(runner)
    try:
        yield BatchemuHandle(server.endpoint, server.emulator)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def batchemu_endpoint(_batchemu_session: BatchemuHandle) -> str:
    """The emulator's URL: an in-process server on 127.0.0.1, or the one given by --batchemu-endpoint."""
    return _batchemu_session.endpoint


@pytest.fixture
def batchemu(_batchemu_session: BatchemuHandle, request: pytest.FixtureRequest) -> BatchemuHandle:
    """The control handle, with state reset first unless the test is marked batchemu_keep_state."""
    if request.node.get_closest_marker(KEEP_STATE_MARKER) is None:
        _batchemu_session.reset()
    return _batchemu_session


@pytest.fixture(scope="session")
def _batchemu_batch_client(_batchemu_session: BatchemuHandle) -> Any:
    return _batchemu_session.client("batch")


@pytest.fixture
def batch_client(batchemu: BatchemuHandle, _batchemu_batch_client: Any) -> Any:
    """A boto3 Batch client for the emulator (us-east-1, dummy credentials); state reset as for `batchemu`."""
    return _batchemu_batch_client

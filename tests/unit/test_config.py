"""Settings from flags, then BATCHEMU_* variables, then defaults."""

from __future__ import annotations

import pytest

from batchemu import config


def test_defaults_bind_loopback_port_8000_and_leave_the_runner_to_detection() -> None:
    settings = config.from_environment({}, environ={})
    assert (settings.host, settings.port, settings.runner, settings.state_dir) == (
        "127.0.0.1",
        8000,
        None,
        None,
    )


def test_environment_overrides_defaults() -> None:
    settings = config.from_environment({}, environ={"BATCHEMU_PORT": "9001", "BATCHEMU_HOST": "127.0.0.2"})
    assert (settings.host, settings.port) == ("127.0.0.2", 9001)


def test_flags_override_environment() -> None:
    settings = config.from_environment({"port": 7000, "host": None}, environ={"BATCHEMU_PORT": "9001"})
    assert settings.port == 7000


def test_bad_number_in_environment_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="BATCHEMU_PORT='x' is not a valid int"):
        config.from_environment({}, environ={"BATCHEMU_PORT": "x"})

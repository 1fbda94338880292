"""Settings for one emulator: where it listens, which runner runs jobs, where state lives, and limits.
Read from CLI flags first, then BATCHEMU_* environment variables, then defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RUNNERS = ("docker", "process", "simulated", "swarm")
PACES = ("instant", "realistic")
# With a state directory, what SIGTERM/SIGINT do to running jobs: leave them for the next start to
# re-attach, or stop them (without a state directory they are always stopped).
ON_SHUTDOWN = ("leave", "stop")
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    runner: str | None = None  # None: docker when an engine answers, else simulated
    state_dir: str | None = None
    default_account: str = DEFAULT_ACCOUNT
    default_region: str = DEFAULT_REGION
    # Seconds between scheduler ticks when nothing wakes it.
    tick_interval: float = 0.1
    # Requests that woke the scheduler while it ticked (a burst): wait this long for more before ticking.
    wake_coalesce_seconds: float = 0.005
    # "instant": each transition as soon as it is due; "realistic": AWS-like dwell times per status.
    pace: str = "instant"
    # Every non-Batch request, and the emulator's own writes to other services, go here instead of to
    # moto in-process (e.g. a running moto server or LocalStack).
    aws_endpoint: str | None = None
    keep_containers: bool = False
    allow_privileged: bool = False
    allowed_host_paths: tuple[str, ...] = ()
    # "sigv4": verify request signatures against auth_keys (access key -> secret key)
    auth: str | None = None
    auth_keys: dict[str, str] = field(default_factory=dict)
    # The secret of the credentials batchemu gives its jobs and uses itself (access key = account id);
    # random per server, so it opens nothing to outsiders when --auth sigv4 is on.
    internal_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    docker_network: str = "host"
    on_shutdown: str = "leave"
    # The Docker engine (for --runner swarm: a swarm manager), e.g. unix:///path/docker.sock or
    # tcp://host:2376; None: DOCKER_HOST or the local engine.
    docker_host: str | None = None
    # Where job containers reach the emulator, when not where it listens (e.g. jobs on other hosts).
    job_endpoint: str | None = None
    # A folder of *.py scripts and CloudFormation templates run at start-up (init_hooks.py).
    init_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "host": ("BATCHEMU_HOST", str),
    "port": ("BATCHEMU_PORT", int),
    "runner": ("BATCHEMU_RUNNER", str),
    "state_dir": ("BATCHEMU_STATE_DIR", str),
    "pace": ("BATCHEMU_PACE", str),
    "aws_endpoint": ("BATCHEMU_AWS_ENDPOINT", str),
    "docker_network": ("BATCHEMU_DOCKER_NETWORK", str),
    "on_shutdown": ("BATCHEMU_ON_SHUTDOWN", str),
    "docker_host": ("DOCKER_HOST", str),
    "job_endpoint": ("BATCHEMU_JOB_ENDPOINT", str),
    "init_dir": ("BATCHEMU_INIT_DIR", str),
    "auth": ("BATCHEMU_AUTH", str),
    "auth_keys": ("BATCHEMU_AUTH_KEYS", lambda text: parse_auth_keys(text.split(","))),
    "allowed_host_paths": ("BATCHEMU_ALLOW_HOST_PATHS", lambda text: tuple(p for p in text.split(":") if p)),
}


def variable(name: str) -> str:
    """The environment variable of a setting, e.g. "port" -> "BATCHEMU_PORT"."""
    return _ENV[name][0]


def parse_auth_keys(pairs: list[str]) -> dict[str, str]:
    """["AKID:SECRET", ...] -> {"AKID": "SECRET"}."""
    keys = {}
    for pair in pairs:
        access_key, separator, secret = pair.strip().partition(":")
        if not separator or not access_key or not secret:
            raise ValueError(f"an auth key must look like ACCESS_KEY:SECRET_KEY, got {pair!r}")
        keys[access_key] = secret
    return keys


def from_environment(
    overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Settings from `overrides` (CLI flags; None means not given), then the environment, then defaults."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for name, (variable, convert) in _ENV.items():
        if variable in environ and environ[variable] != "":
            try:
                values[name] = convert(environ[variable])
            except ValueError as error:
                kind = getattr(convert, "__name__", "value")
                detail = error if kind == "<lambda>" else f"is not a valid {kind}"
                raise ValueError(f"{variable}={environ[variable]!r} {detail}") from None
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return Settings(**values)

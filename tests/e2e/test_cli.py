"""`batchemu serve` as a user starts it: ready line, health, reset, start-up errors, and a whole job."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchemu import __version__

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batchemu", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def served() -> Iterator[tuple[str, str]]:
    port = free_port()
    process = start("--port", str(port), "--runner", "simulated")
    assert process.stdout is not None
    ready = process.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}", ready
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_prints_one_ready_line_naming_endpoint_runner_and_dashboard(served: tuple[str, str]) -> None:
    endpoint, ready = served
    assert ready.startswith(f"batchemu {__version__} ready on {endpoint} (runner: simulated)")
    assert ready.strip().endswith(f"; dashboard: {endpoint}/_batchemu/ui")


def test_health_answers_running_json(served: tuple[str, str]) -> None:
    endpoint, _ = served
    with urllib.request.urlopen(f"{endpoint}/_batchemu/health") as response:
        body = json.load(response)
    assert body["status"] == "running"
    assert body["runner"] == "simulated"
    assert "batch" in body["services"]


def test_quickstart_example_reaches_succeeded(served: tuple[str, str]) -> None:
    endpoint, _ = served
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env={**os.environ, "BATCHEMU_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello SUCCEEDED True"


def test_reset_clears_state(served: tuple[str, str]) -> None:
    endpoint, _ = served
    request = urllib.request.Request(f"{endpoint}/_batchemu/reset", method="POST")
    with urllib.request.urlopen(request) as response:
        assert json.load(response) == {"status": "reset"}


def test_docker_runner_without_an_engine_is_a_clear_startup_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-docker.sock"
    process = start(
        "--port", str(free_port()), "--runner", "docker", env={"DOCKER_HOST": f"unix://{missing}"}
    )
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "--runner docker needs a Docker engine" in err
    assert "scripts/docker-setup" in err
    assert "Traceback" not in err


def test_runner_from_environment_variable_is_used() -> None:
    port = free_port()
    process = start("--port", str(port), env={"BATCHEMU_RUNNER": "process"})
    try:
        assert process.stdout is not None
        assert "runner: process" in process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_port_in_use_is_a_clear_startup_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        process = start("--port", str(port), "--runner", "simulated")
        _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--port", "99999"], {}, "--port"),
        (["--port", "http"], {}, "--port"),
        (["--log-level", "LOUD"], {}, "--log-level"),
        (["--runner", "kubernetes"], {}, "--runner"),
        (["--on-shutdown", "maybe"], {}, "--on-shutdown"),
        (["--pace", "slow"], {}, "--pace"),
        (["--auth-key", "no-secret"], {}, "--auth-key"),
        (["--auth", "sigv4"], {}, "--auth-key"),
        (["--state-dir", "/proc/nope"], {}, "--state-dir"),
        ([], {"BATCHEMU_STATE_DIR": "/proc/nope"}, "BATCHEMU_STATE_DIR"),
        ([], {"BATCHEMU_PORT": "99999"}, "BATCHEMU_PORT"),
        ([], {"BATCHEMU_PORT": "eighty"}, "BATCHEMU_PORT"),
        ([], {"BATCHEMU_ON_SHUTDOWN": "later"}, "BATCHEMU_ON_SHUTDOWN"),
        (["--host", "256.0.0.1"], {}, "--host"),
    ],
)
def test_a_bad_flag_or_path_is_one_line_naming_it_and_exit_status_2(
    args: list[str],
    env: dict[str, str],
    names: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from batchemu.cli import main

    for name in [name for name in os.environ if name.startswith("BATCHEMU_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        status = main(
            ["serve", "--runner", "simulated", *args] if "--runner" not in args else ["serve", *args]
        )
    except SystemExit as exit:
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert names in err and err.startswith("batchemu: error: "), err


def test_a_state_dir_that_is_a_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    process = start("--port", str(free_port()), "--runner", "simulated", "--state-dir", str(not_a_folder))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err == f"batchemu: error: --state-dir {not_a_folder}: not a directory\n", err


@pytest.mark.parametrize("args", [["--port", "99999"], ["--state-dir", "/proc/nope"]])
def test_the_reported_startup_errors_have_no_traceback(args: list[str]) -> None:
    process = start("--runner", "simulated", *args)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, len(err.splitlines())) == (2, 1), err
    assert "Traceback" not in err and args[0] in err


def test_help_names_the_dashboard_and_the_shutdown_behaviour() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "batchemu", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    text = " ".join(shown.stdout.split())
    assert "http://127.0.0.1:8000/_batchemu/ui" in text
    assert "--on-shutdown {leave,stop}" in text and "SIGTERM" in text


def test_a_startup_error_leaves_the_callers_signal_handlers_as_they_were(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import signal

    from batchemu.cli import main

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["serve", "--runner", "simulated", "--state-dir", "/proc/nope"]) == 2
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

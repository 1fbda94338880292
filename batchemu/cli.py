"""`batchemu serve`: starts the emulator on 127.0.0.1:8000 unless told otherwise, prints one ready line, and
shuts down gracefully on SIGTERM or SIGINT. A bad flag or unusable path is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import NoReturn

from werkzeug.serving import BaseWSGIServer

from batchemu import __version__, config
from batchemu.emulator import Emulator
from batchemu.errors import ConfigurationError
from batchemu.init_hooks import run_init_dir
from batchemu.keepalive import close_connections
from batchemu.server import bind

log = logging.getLogger("batchemu")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DASHBOARD_PATH = "/_batchemu/ui"
YOUNG_COLLECTION_ALLOCATIONS = 50_000  # CPython's default is 700
EPILOG = (
    f"The dashboard is served at http://HOST:PORT{DASHBOARD_PATH} (http://127.0.0.1:8000{DASHBOARD_PATH} by "
    "default). SIGTERM or SIGINT end the server gracefully: running jobs are stopped and fail with a reason "
    "(with --state-dir, --on-shutdown leave keeps them running for the next start), logs are flushed, and "
    "it exits 0."
)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (naming the flag) instead of the whole usage block, under
    the one prefix every CLI error has (`batchemu: error:`)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"batchemu: error: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="batchemu", description="A local emulator of AWS Batch", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"batchemu {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Batch API", epilog=EPILOG)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; env BATCHEMU_HOST)")
    serve.add_argument("--port", type=_port, help="port (default 8000; env BATCHEMU_PORT)")
    serve.add_argument(
        "--runner",
        choices=config.RUNNERS,
        help="how jobs run: docker (the default when an engine answers), process, simulated, or swarm "
        "(services on a Docker Swarm; env BATCHEMU_RUNNER)",
    )
    serve.add_argument(
        "--docker-host",
        help="--runner swarm: the swarm manager's Docker API, e.g. unix:///run/docker.sock (env DOCKER_HOST)",
    )
    serve.add_argument(
        "--job-endpoint",
        metavar="URL",
        help="where job containers reach the emulator, when not where it listens (env BATCHEMU_JOB_ENDPOINT)",
    )
    serve.add_argument(
        "--aws-endpoint",
        help="send non-Batch requests to this endpoint instead of moto (env BATCHEMU_AWS_ENDPOINT)",
    )
    serve.add_argument(
        "--keep-containers", action="store_true", default=None, help="keep job containers after they exit"
    )
    serve.add_argument(
        "--docker-network", help="network for job containers (default host; env BATCHEMU_DOCKER_NETWORK)"
    )
    serve.add_argument("--state-dir", help="keep state in this folder (env BATCHEMU_STATE_DIR)")
    serve.add_argument(
        "--init-dir",
        metavar="DIR",
        help="at start-up, run this folder's *.py scripts (AWS_ENDPOINT_URL set) and create its CloudFormation "
        "templates (*.json, *.yaml) before saying ready (env BATCHEMU_INIT_DIR)",
    )
    serve.add_argument(
        "--on-shutdown",
        choices=config.ON_SHUTDOWN,
        help="with --state-dir, what SIGTERM/SIGINT do to running jobs: leave them running for the next "
        "start to re-attach (default), or stop them (env BATCHEMU_ON_SHUTDOWN)",
    )
    serve.add_argument(
        "--pace", choices=config.PACES, help="instant (default) or realistic dwell times (env BATCHEMU_PACE)"
    )
    serve.add_argument(
        "--allow-privileged", action="store_true", default=None, help="let jobs run privileged containers"
    )
    serve.add_argument(
        "--allow-host-path",
        action="append",
        metavar="PATH",
        help="let jobs mount this host path (or below it) as a volume or device; repeatable",
    )
    serve.add_argument(
        "--auth", choices=["sigv4"], help="verify SigV4 signatures against --auth-key (env BATCHEMU_AUTH)"
    )
    serve.add_argument(
        "--auth-key",
        action="append",
        metavar="ACCESS_KEY:SECRET_KEY",
        help="credentials accepted with --auth sigv4; repeatable (env BATCHEMU_AUTH_KEYS, comma-separated)",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG, INFO, WARNING or ERROR (default INFO)",
    )
    state = commands.add_parser("state", help="export or import a running server's whole state")
    state.add_argument("action", choices=["export", "import"], help="export to FILE, or import FILE")
    state.add_argument("file", metavar="FILE", help="the snapshot file (a batchemu state file)")
    state.add_argument(
        "--endpoint",
        default=os.environ.get("BATCHEMU_ENDPOINT", "http://127.0.0.1:8000"),
        help="the server (default http://127.0.0.1:8000; env BATCHEMU_ENDPOINT)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "state":
        return state_command(args)
    return 2


def state_command(args: argparse.Namespace) -> int:
    """`batchemu state export FILE` / `import FILE`, through the server's /_batchemu/state route."""
    url = args.endpoint.rstrip("/") + "/_batchemu/state"
    try:
        if args.action == "export":
            with urllib.request.urlopen(url, timeout=300) as answer:
                data = answer.read()
            with open(args.file, "wb") as file:
                file.write(data)
            print(f"exported {len(data)} bytes from {args.endpoint} to {args.file}")
            return 0
        with open(args.file, "rb") as file:
            body = file.read()
        request = urllib.request.Request(url, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=300):
            print(f"imported {args.file} into {args.endpoint}")
            return 0
    except urllib.error.HTTPError as error:
        print(f"batchemu: error: {error.read().decode(errors='replace')}", file=sys.stderr)
    except (OSError, urllib.error.URLError) as error:
        print(f"batchemu: error: {args.endpoint}: {error}", file=sys.stderr)
    return 1


def serve(args: argparse.Namespace) -> int:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully and ends the process with status 0;
    returns 2 (a start-up error) only."""
    _configure_logging(args.log_level)
    signals = _Signals()  # from the start: a signal while starting ends the server once it is up
    try:
        settings = _settings(args)
        emulator = _emulator(settings, args)
        server = _bind(settings.host, settings.port, emulator, args)
    except (ConfigurationError, ValueError) as error:
        signals.restore()
        print(f"batchemu: error: {error}", file=sys.stderr)
        return 2
    if settings.host in ("0.0.0.0", "::"):
        log.warning(
            "listening on all interfaces (%s): anyone who can reach this machine can use it", settings.host
        )
    _tune_garbage_collector()
    emulator.start()
    http = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="batchemu-http", daemon=True
    )
    http.start()
    endpoint = f"http://{settings.host}:{server.server_port}"
    if settings.init_dir:
        reachable = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        run_init_dir(
            settings.init_dir,
            f"http://{reachable}:{server.server_port}",
            settings.default_account,
            settings.default_region,
        )
    print(
        f"batchemu {__version__} ready on {endpoint} (runner: {emulator.runner.name}); "
        f"dashboard: {endpoint}{DASHBOARD_PATH}",
        flush=True,
    )
    why = signals.wait(http)
    started = time.monotonic()
    summary = emulator.shutdown(why, leave_running=settings.on_shutdown == "leave")
    server.shutdown()  # the listening socket closes last: the emulator's own last writes went through it
    close_connections(server)
    server.server_close()
    log.info("batchemu shut down on %s in %.2f s: %s", why, time.monotonic() - started, summary)
    _exit_now(0)


def _tune_garbage_collector() -> None:
    """A server makes and keeps many small objects (jobs, their attempts and history), so CPython's default
    collector would rescan every live job every few thousand allocations: 30-40% of the scheduler's time
    with 10^5 array children. What start-up loaded (botocore models, moto) is frozen out of the scans and
    young collections run ten-fold less often. Only `serve` does this: an in-process emulator (the pytest
    fixture) leaves its host process's collector alone."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])


def _configure_logging(level: str) -> None:
    """The server's log lines (at INFO one per request, and per job that starts running or ends) name no
    source file, thread or process, so logging is told not to look them up (the Python logging HOWTO's
    "Optimization"): a third of the cost of a line."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    configured = bool(logging.getLogger().handlers)  # by the host (basicConfig then changes nothing)
    logging.basicConfig(level=getattr(logging, level), format=LOG_FORMAT)
    if not configured:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_Formatter(LOG_FORMAT))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Formatter(logging.Formatter):
    """logging's own line, with the date and time of the second written once for all the lines in that
    second (time.strftime is a fifth of the cost of a line; a server writes one per request)."""

    _second: tuple[int, str] = (-1, "")  # (epoch second, its text), replaced whole: threads share it

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = self._second
        if second[0] != int(record.created):
            text = time.strftime(self.default_time_format, self.converter(record.created))
            second = self._second = (int(record.created), text)
        return f"{second[1]},{int(record.msecs):03d}"  # logging's default_msec_format, "%s,%03d"


def _exit_now(status: int) -> NoReturn:
    """Ends the process once everything is flushed, skipping the interpreter's teardown of every loaded
    module (moto's included), which alone takes one to three seconds on a busy two-core machine."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class _Signals:
    """SIGTERM and SIGINT handlers (needed as PID 1 in a container, where the kernel ignores a signal
    with no handler): the first asks for a graceful shutdown, a second one exits at once."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._event = threading.Event()
        self._previous = {
            number: signal.signal(number, self._handle) for number in (signal.SIGTERM, signal.SIGINT)
        }

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if self.received is not None:
            print(f"batchemu: {name} during shutdown: exiting at once", file=sys.stderr, flush=True)
            os._exit(1)
        self.received = name
        self._event.set()

    def wait(self, http: threading.Thread) -> str:
        """Blocks until a signal arrives (or the HTTP server thread dies); returns what ended it."""
        while not self._event.wait(0.5):
            if not http.is_alive():
                return "the HTTP server stopping"
        return self.received or "a signal"


def _settings(args: argparse.Namespace) -> config.Settings:
    settings = config.from_environment(
        {
            "host": args.host,
            "port": args.port,
            "runner": args.runner,
            "state_dir": args.state_dir,
            "pace": args.pace,
            "aws_endpoint": args.aws_endpoint,
            "keep_containers": args.keep_containers,
            "docker_network": args.docker_network,
            "docker_host": args.docker_host,
            "job_endpoint": args.job_endpoint,
            "allow_privileged": args.allow_privileged,
            "allowed_host_paths": tuple(args.allow_host_path) if args.allow_host_path else None,
            "auth": args.auth,
            "auth_keys": _auth_keys(args.auth_key),
            "on_shutdown": args.on_shutdown,
            "init_dir": args.init_dir,
        }
    )
    if not 0 <= settings.port <= 65535:
        raise ConfigurationError(f"BATCHEMU_PORT={settings.port} is not a port number (0 to 65535)")
    for name, flag, allowed in (
        ("runner", "--runner", config.RUNNERS),
        ("pace", "--pace", config.PACES),
        ("on_shutdown", "--on-shutdown", config.ON_SHUTDOWN),
        ("auth", "--auth", ("sigv4",)),
    ):
        value = getattr(settings, name)
        if value is not None and value not in allowed:
            source = flag if getattr(args, name) is not None else config.variable(name)
            raise ConfigurationError(f"{source}: unknown value {value!r}; choose one of {', '.join(allowed)}")
    if settings.auth == "sigv4" and not settings.auth_keys:
        raise ConfigurationError("--auth sigv4 needs at least one --auth-key ACCESS_KEY:SECRET_KEY")
    if settings.init_dir and not os.path.isdir(settings.init_dir):
        source = "--init-dir" if args.init_dir else "BATCHEMU_INIT_DIR"
        raise ConfigurationError(f"{source} {settings.init_dir}: not a directory")
    if settings.state_dir:
        _check_state_dir(settings.state_dir, "--state-dir" if args.state_dir else "BATCHEMU_STATE_DIR")
    return settings


def _auth_keys(pairs: list[str] | None) -> dict[str, str] | None:
    try:
        return config.parse_auth_keys(pairs) if pairs else None
    except ValueError as error:
        raise ConfigurationError(f"--auth-key: {error}") from None


def _check_state_dir(path: str, source: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigurationError(f"{source} {path}: not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"{source} {path}: cannot create it: {error.strerror}") from None
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{source} {path}: not a folder this user can write to")


def _emulator(settings: config.Settings, args: argparse.Namespace) -> Emulator:
    try:
        return Emulator(settings)
    except sqlite3.Error as error:
        source = "--state-dir" if args.state_dir else "BATCHEMU_STATE_DIR"
        raise ConfigurationError(
            f"{source} {settings.state_dir}: cannot open its database: {error}"
        ) from None


def _bind(host: str, port: int, emulator: Emulator, args: argparse.Namespace) -> BaseWSGIServer:
    try:
        _probe(host, port)  # werkzeug exits the process on a busy port; say it our way first
        return bind(host, port, emulator)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"--port: port {port} on {host} is already in use; pick another with --port or BATCHEMU_PORT"
            ) from None
        flag = "--port" if error.errno == errno.EACCES else "--host"
        reason = error.strerror or str(error)
        raise ConfigurationError(f"{flag}: cannot listen on {host}:{port}: {reason}") from None


def _probe(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))

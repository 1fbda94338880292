"""`batchemu serve`: starts the emulator on 127.0.0.1:8000 unless told otherwise, and prints one ready line."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys

from werkzeug.serving import BaseWSGIServer

from batchemu import __version__, config
from batchemu.emulator import Emulator
from batchemu.errors import ConfigurationError
from batchemu.server import bind

log = logging.getLogger("batchemu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchemu", description="A local emulator of AWS Batch")
    parser.add_argument("--version", action="version", version=f"batchemu {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Batch API")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; env BATCHEMU_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000; env BATCHEMU_PORT)")
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
    serve.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
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
                "auth_keys": config.parse_auth_keys(args.auth_key) if args.auth_key else None,
            }
        )
        if settings.auth == "sigv4" and not settings.auth_keys:
            raise ConfigurationError("--auth sigv4 needs at least one --auth-key ACCESS_KEY:SECRET_KEY")
        if settings.runner is not None and settings.runner not in config.RUNNERS:
            raise ConfigurationError(
                f"Unknown runner {settings.runner!r}; choose one of {', '.join(config.RUNNERS)}"
            )
        if settings.pace not in config.PACES:
            raise ConfigurationError(
                f"Unknown pace {settings.pace!r}; choose one of {', '.join(config.PACES)}"
            )
        emulator = Emulator(settings)
        server = _bind(settings.host, settings.port, emulator)
    except (ConfigurationError, ValueError) as error:
        print(f"batchemu: error: {error}", file=sys.stderr)
        return 2
    if settings.host in ("0.0.0.0", "::"):
        log.warning(
            "listening on all interfaces (%s): anyone who can reach this machine can use it", settings.host
        )
    emulator.start()
    print(
        f"batchemu {__version__} ready on http://{settings.host}:{server.server_port} (runner: {emulator.runner.name})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.stop()
    return 0


def _bind(host: str, port: int, emulator: Emulator) -> BaseWSGIServer:
    try:
        _probe(host, port)  # werkzeug exits the process on a busy port; say it our way first
        return bind(host, port, emulator)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} on {host} is already in use; pick another with --port or BATCHEMU_PORT"
            ) from None
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error}") from None


def _probe(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))

"""Runs one Lambda invocation as a Docker container (docker SDK): the runtime image, the function's code
and layers copied in before start, the endpoint and credentials job containers get, its memory as a limit,
its Timeout enforced; returns the result line and the log lines. Imports runners.base and the stdlib."""

from __future__ import annotations

import calendar
import io
import json
import logging
import os
import re
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from batchemu.runners.base import LogEvent

log = logging.getLogger("batchemu.lambda")

PYTHON_IMAGE = "batchemu-test/lambda-python:latest"
PYTHON_RUNTIMES = frozenset(f"python3.{minor}" for minor in range(8, 14))
LAMBDA_LABEL = "batchemu.lambda"
# Seconds allowed beyond the function's Timeout for the container to start and import the handler (Lambda's
# init phase has its own 10-second limit) before the container is killed from outside.
START_AND_INIT_SECONDS = 15.0
ASYNC_WORKERS = 4
_TIMESTAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ?(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Invocation:
    """One invocation of one function version, in plain values (read from moto's function)."""

    function_name: str
    function_arn: str
    account: str
    region: str
    runtime: str
    handler: str
    code: bytes  # the deployment package (zip)
    event: str  # the payload, JSON text
    request_id: str
    log_stream: str
    timeout_seconds: float = 3.0
    memory_mib: int = 128
    version: str = "$LATEST"
    environment: dict[str, str] = field(default_factory=dict)
    layers: tuple[bytes, ...] = ()  # zips, extracted into /opt in order


@dataclass(frozen=True)
class Outcome:
    payload: bytes
    failed: bool  # the function failed: FunctionError=Unhandled
    lines: list[LogEvent]


class LambdaContainers:
    """Runs invocations in containers on the local Docker engine (DOCKER_HOST applies), on the `network`
    job containers use, reaching the emulator at `endpoint` with the account id as access key and
    `secret`. run() blocks its caller; submit() runs on a small pool (asynchronous invocations)."""

    def __init__(self, endpoint: str, secret: str, network: str = "host") -> None:
        self.endpoint = endpoint
        self.secret = secret
        self.network = network
        self._client: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(ASYNC_WORKERS, thread_name_prefix="batchemu-lambda")
        self._live: set[str] = set()
        self._closed = False

    def submit(self, invocation: Invocation, done: Callable[[Invocation, Outcome], None]) -> None:
        if self._closed:  # the server is stopping: as for queued runs, this one is dropped
            log.warning(
                "asynchronous invocation of %s dropped: the server is stopping", invocation.function_name
            )
            return

        def run_then_report() -> None:
            try:
                done(invocation, self.run(invocation))
            except Exception:
                log.exception("asynchronous invocation of %s failed", invocation.function_name)

        self._pool.submit(run_then_report)

    def run(self, invocation: Invocation) -> Outcome:
        if not invocation.code:
            return _runtime_error(
                invocation,
                "Runtime.Unavailable",
                "the function has no deployment package: batchemu runs Zip functions (not PackageType Image)",
            )
        try:
            client = self._docker()
        except Exception as error:
            return _runtime_error(
                invocation,
                "Runtime.Unavailable",
                f"no Docker engine answers ({error}); batchemu runs Lambda functions in Docker containers: "
                "start one (scripts/docker-setup)",
            )
        image, missing = self._image(client, invocation.runtime)
        if missing:
            return _runtime_error(invocation, "Runtime.Unavailable", missing)
        try:
            return self._run_container(client, image, invocation)
        except Exception as error:
            log.warning("Lambda function %s: Docker failed: %s", invocation.function_name, error)
            return _runtime_error(invocation, "Runtime.Unavailable", f"Docker failed to run {image}: {error}")

    def close(self) -> None:
        """Queued asynchronous invocations are dropped; running containers are killed."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            live, client = list(self._live), self._client
        for container_id in live:
            try:
                client.containers.get(container_id).remove(force=True)
            except Exception:
                pass

    def image_for(self, runtime: str) -> list[str]:
        """The images to try, in order: the user's MOTO_DOCKER_LAMBDA_IMAGE (a value with a tag serves
        every runtime, else it is a repository tagged by runtime, as moto reads it), then ours for Python
        runtimes, else the public repositories moto tries."""
        chosen = os.environ.get("MOTO_DOCKER_LAMBDA_IMAGE")
        if chosen:
            return [chosen if ":" in chosen else f"{chosen}:{runtime}"]
        if runtime in PYTHON_RUNTIMES:
            return [PYTHON_IMAGE]
        split = re.search(r"\d", runtime)
        language, version = (runtime[: split.start()], runtime[split.start() :]) if split else (runtime, "")
        return [f"ghcr.io/shogo82148/lambda-{language}:{version}", f"mlupin/docker-lambda:{runtime}"]

    def _docker(self) -> Any:
        with self._lock:
            if self._client is None:
                import docker

                client = docker.from_env(timeout=10)
                client.ping()
                self._client = client
            return self._client

    def _image(self, client: Any, runtime: str) -> tuple[str, str | None]:
        """The first candidate image present (pulled if it can be); else why none is."""
        from docker.errors import DockerException

        candidates = self.image_for(runtime)
        for image in candidates:
            try:
                client.images.get(image)
                return image, None
            except DockerException:
                pass
            if image == PYTHON_IMAGE:
                continue  # ours is built, never pulled
            try:
                client.images.pull(image)  # fails at once when no registry is reachable
                return image, None
            except DockerException:
                pass
        hint = (
            "build it with scripts/build-test-images"
            if PYTHON_IMAGE in candidates
            else "pull or build one, or set MOTO_DOCKER_LAMBDA_IMAGE"
        )
        return (
            "",
            f"no image for runtime {runtime}: {', '.join(candidates)} is not on this Docker engine; {hint}",
        )

    def _run_container(self, client: Any, image: str, invocation: Invocation) -> Outcome:
        container = client.containers.create(
            image,
            [invocation.handler, invocation.event],
            environment=self.environment(invocation),
            network_mode=self.network,
            mem_limit=f"{invocation.memory_mib}m",
            memswap_limit=f"{invocation.memory_mib}m",
            labels={LAMBDA_LABEL: invocation.function_arn},
            detach=True,
        )
        with self._lock:
            self._live.add(container.id)
        try:
            container.put_archive("/var/task", zip_to_tar(invocation.code))
            for layer in invocation.layers:
                container.put_archive("/opt", zip_to_tar(layer))
            container.start()
            timed_out = _wait(container, invocation.timeout_seconds + START_AND_INIT_SECONDS)
            state = container.attrs["State"] if timed_out else _inspect_state(container)
            combined = container.logs(stdout=True, stderr=True, timestamps=True)
            stdout = container.logs(stdout=True, stderr=False)
        finally:
            with self._lock:
                self._live.discard(container.id)
            container.remove(force=True)
        if timed_out:
            return _timed_out(invocation, _log_lines(combined, None))
        return _outcome(invocation, state, stdout.decode("utf-8", "replace"), combined)

    def environment(self, invocation: Invocation) -> dict[str, str]:
        """What Lambda sets, what points unmodified SDK code at the emulator (as for job containers), then
        the function's Environment.Variables, which win."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "MOTO_HTTP_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": invocation.account,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": invocation.region,
            "AWS_DEFAULT_REGION": invocation.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{invocation.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": invocation.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": invocation.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(invocation.memory_mib),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{invocation.timeout_seconds:g}",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{invocation.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": invocation.log_stream,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": ":UTC",
            "_HANDLER": invocation.handler,
            "_BATCHEMU_REQUEST_ID": invocation.request_id,
            "_BATCHEMU_FUNCTION_ARN": invocation.function_arn,
            **invocation.environment,
        }


def zip_to_tar(package: bytes) -> bytes:
    """A deployment package (zip) as the tar archive Docker's put_archive takes, modes kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for entry in source.infolist():
            info = tarfile.TarInfo(entry.filename.rstrip("/"))
            mode = (entry.external_attr >> 16) & 0o7777
            if entry.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, mode or 0o755
                target.addfile(info)
                continue
            data = source.read(entry)
            info.size, info.mode = len(data), mode or 0o644
            target.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _wait(container: Any, seconds: float) -> bool:
    """Waits for the container to exit; True (and the container killed) when it ran past `seconds`."""
    import requests

    try:
        container.wait(timeout=seconds)
        return False
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        try:
            container.kill()
        except Exception:
            pass
        return True


def _inspect_state(container: Any) -> dict[str, Any]:
    container.reload()
    return dict(container.attrs.get("State") or {})


def _outcome(invocation: Invocation, state: dict[str, Any], stdout: str, combined: bytes) -> Outcome:
    result = next((line for line in reversed(stdout.splitlines()) if line.strip()), "")
    lines = _log_lines(combined, result)
    exit_code = int(state.get("ExitCode", 0))
    if exit_code == 0:
        return Outcome(result.encode(), False, lines)
    try:
        reported = json.loads(result)
    except ValueError:
        reported = None
    if isinstance(reported, dict) and "errorType" in reported:
        return Outcome(result.encode(), True, lines)
    if state.get("OOMKilled"):
        return _runtime_error(
            invocation, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed", lines
        )
    how = "signal: killed" if exit_code == 137 else f"exit status {exit_code}"
    return _runtime_error(invocation, "Runtime.ExitError", f"Runtime exited with error: {how}", lines)


def _timed_out(invocation: Invocation, lines: list[LogEvent]) -> Outcome:
    message = f"Task timed out after {invocation.timeout_seconds:.2f} seconds"
    payload = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {invocation.request_id} Error: {message}",
    }
    return Outcome(json.dumps(payload).encode(), True, lines)


def _runtime_error(
    invocation: Invocation, error_type: str, message: str, lines: list[LogEvent] | None = None
) -> Outcome:
    payload = {
        "errorType": error_type,
        "errorMessage": f"RequestId: {invocation.request_id} Error: {message}",
    }
    text = f"{error_type}: {message}"
    now = lines[-1].timestamp_ms if lines else int(time.time() * 1000)
    lines = [*(lines or []), LogEvent(now, text)]
    return Outcome(json.dumps(payload).encode(), True, lines)


def _log_lines(combined: bytes, result: str | None) -> list[LogEvent]:
    """Docker's timestamped lines, without blank ones and without the result line (the last one)."""
    events: list[LogEvent] = []
    for raw in combined.decode("utf-8", "replace").splitlines():
        match = _TIMESTAMPED.match(raw)
        if match is None or not match.group(3).strip():
            continue
        seconds = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
        millis = seconds * 1000 + int((match.group(2) or "0")[:3].ljust(3, "0"))
        events.append(LogEvent(millis, match.group(3).rstrip("\r")))
    events.sort(key=lambda event: event.timestamp_ms)  # stdout and stderr are stored apart
    if result:
        for index in range(len(events) - 1, -1, -1):
            if events[index].message == result:
                del events[index]
                break
    return events

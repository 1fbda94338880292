"""Test helpers: `mock_batch` (an in-process server that unmodified `boto3.client("batch")` reaches, in
the spirit of moto's `mock_aws`) and `BatchemuHandle`, the control handle it and the pytest plugin hand
out (reset, fake-clock advance, wait for a job's status without sleeping, job history).
Imports of the emulator happen on first use, so importing this module stays cheap."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from batchemu.emulator import Emulator
    from batchemu.server import ServerThread

__all__ = ["BatchemuHandle", "JobStatusError", "MockBatch", "mock_batch", "serve_in_process"]

FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED"})
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"
F = TypeVar("F", bound=Callable[..., Any])


class JobStatusError(AssertionError):
    """The job reached a final status other than the one waited for; it will never change again."""


class BatchemuHandle:
    """Controls one emulator: in-process (`emulator` given; steps its scheduler directly) or remote
    (`emulator` None; through the admin API under /_batchemu/)."""

    def __init__(self, endpoint: str, emulator: Emulator | None = None, poll_interval: float = 0.05) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.emulator = emulator
        self.poll_interval = poll_interval
        self._remote_clock_is_fake: bool | None = None

    @property
    def is_remote(self) -> bool:
        return self.emulator is None

    @property
    def clock_is_fake(self) -> bool:
        if self.emulator is not None:
            return bool(self.emulator.clock.is_fake)
        if self._remote_clock_is_fake is None:
            self._remote_clock_is_fake = bool(self._admin("GET", "clock")["fake"])
        return self._remote_clock_is_fake

    def health(self) -> dict[str, Any]:
        return self._admin("GET", "health")

    def reset(self) -> None:
        """Deletes every resource and job, and the state of the other services the endpoint serves; a
        fake clock goes back to the current time."""
        self._admin("POST", "reset")

    def advance(self, seconds: float) -> None:
        """Moves the fake clock forward; in-process, then settles."""
        if self.emulator is not None:
            self.emulator.advance(seconds)
            self.settle()
        else:
            self._admin("POST", "clock", {"advance": seconds})

    def settle(self) -> None:
        """In-process: ticks the scheduler until nothing changes and finishes pending log writes.
        Remote: nothing (the sidecar's own loop moves jobs; use wait_for_status)."""
        if self.emulator is not None:
            self.emulator.run_until_idle()
            self.emulator.flush()

    def history(self, job_id: str) -> list[dict[str, Any]]:
        """The job's statuses so far, oldest first: [{"at": ms, "status", "statusReason"}]."""
        if self.emulator is not None:
            store = self.emulator.store
            with store.lock:
                for backend in store.backends():
                    job = backend.jobs.get(job_id)
                    if job is not None:
                        return [
                            {"at": at, "status": str(status), "statusReason": reason}
                            for at, status, reason in job.history
                        ]
            raise LookupError(f"No job {job_id}")
        history: list[dict[str, Any]] = self._admin("GET", f"jobs/{job_id}/history")["history"]
        return history

    def status(self, job_id: str) -> str:
        return str(self.history(job_id)[-1]["status"])

    def wait_for_status(
        self, job_id: str, status: str, timeout: float = 300.0, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """Returns the job's history once its status is `status`. In-process on a fake clock this never
        sleeps: it settles the scheduler and advances the clock `step` seconds at a time, up to `timeout`
        seconds of clock time. Otherwise it polls for up to `timeout` wall seconds (on a remote fake clock,
        advancing it `step` seconds whenever nothing moved). Raises JobStatusError when the job ends in
        another final status, TimeoutError when time runs out."""
        wanted = status.upper()
        if self.emulator is not None and self.clock_is_fake:
            return self._step_until(job_id, wanted, timeout, step)
        return self._poll_until(job_id, wanted, timeout, step)

    def client(self, service: str = "batch", region: str = DEFAULT_REGION) -> Any:
        """A boto3 client for this endpoint (dummy credentials)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    # -- waiting ---------------------------------------------------------------------------------
    def _step_until(self, job_id: str, wanted: str, timeout: float, step: float) -> list[dict[str, Any]]:
        assert self.emulator is not None
        elapsed = 0.0
        while True:
            self.settle()
            history = self._check(job_id, wanted)
            if history is not None:
                return history
            if elapsed >= timeout:
                raise TimeoutError(self._timeout_message(job_id, wanted, timeout, "clock "))
            seconds = min(step, timeout - elapsed)
            self.emulator.advance(seconds)
            elapsed += seconds

    def _poll_until(self, job_id: str, wanted: str, timeout: float, step: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] | None = None
        while True:
            self.settle()
            history = self._check(job_id, wanted)
            if history is not None:
                return history
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(job_id, wanted, timeout, "wall "))
            current = self.history(job_id)
            if self.is_remote and current == last and self.clock_is_fake:
                self.advance(step)
            last = current
            time.sleep(self.poll_interval)

    def _check(self, job_id: str, wanted: str) -> list[dict[str, Any]] | None:
        history = self.history(job_id)
        current = history[-1]["status"]
        if current == wanted:
            return history
        if current in FINAL_STATUSES:
            raise JobStatusError(
                f"job {job_id} ended {current} ({history[-1]['statusReason']}) while waiting for {wanted}; "
                f"statuses: {' -> '.join(entry['status'] for entry in history)}"
            )
        return None

    def _timeout_message(self, job_id: str, wanted: str, timeout: float, kind: str) -> str:
        return (
            f"job {job_id} still {self.status(job_id)} after {timeout:g} {kind}seconds waiting for {wanted}"
        )

    # -- admin API -------------------------------------------------------------------------------
    def _admin(self, method: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(
            f"{self.endpoint}/_batchemu/{action}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        # Loopback or a sidecar: never through an HTTP proxy from the environment.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as error:
            message = _message(error)
            if error.code == 404:
                raise LookupError(message) from None
            raise RuntimeError(
                f"batchemu at {self.endpoint}: {method} /_batchemu/{action}: {message}"
            ) from None
        except urllib.error.URLError as error:
            raise ConnectionError(f"no batchemu answers at {self.endpoint} ({error.reason})") from None


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("message", error.reason))
    except ValueError:
        return str(error.reason)


def serve_in_process(runner: str = "simulated", fake_clock: bool | None = None) -> ServerThread:
    """A started server on 127.0.0.1 and a free port. The clock is fake by default for the simulated
    runner (jobs move only when stepped), else the system clock."""
    from batchemu.clock import FakeClock, SystemClock
    from batchemu.config import Settings
    from batchemu.emulator import Emulator
    from batchemu.server import ServerThread

    fake = runner == "simulated" if fake_clock is None else fake_clock
    emulator = Emulator(Settings(runner=runner, port=0), clock=FakeClock() if fake else SystemClock())
    return ServerThread(emulator).start()


# -- mock_batch ------------------------------------------------------------------------------------
class MockBatch:
    """What mock_batch returns when not given a function: a context manager and a decorator."""

    def __init__(self, fake_clock: bool = False, services: str | Iterable[str] = "all") -> None:
        self.fake_clock = fake_clock
        self.services: str | tuple[str, ...] = services if isinstance(services, str) else tuple(services)
        if isinstance(self.services, str) and self.services != "all":
            raise ValueError('services must be "all" or boto3 service names such as ("batch", "logs")')
        self._server: ServerThread | None = None
        self._handle: BatchemuHandle | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._saved_session: Any = None
        # True while the endpoint also serves services other than Batch (moto behind it, not mock_aws).
        self._serves_other_services = False

    @property
    def handle(self) -> BatchemuHandle:
        if self._handle is None:
            raise RuntimeError("mock_batch is not active")
        return self._handle

    def start(self) -> BatchemuHandle:
        if self._server is not None:
            raise RuntimeError("this mock_batch is already active")
        server = serve_in_process("simulated", fake_clock=self.fake_clock)
        try:
            self._patch_environment(server.endpoint)
        except BaseException:
            server.stop()
            raise
        if self._serves_other_services:
            _reset_moto()
        self._server = server
        self._handle = BatchemuHandle(server.endpoint, server.emulator)
        return self._handle

    def stop(self) -> None:
        server, self._server, self._handle = self._server, None, None
        try:
            self._restore_environment()
        finally:
            if server is not None:
                server.stop()
                if self._serves_other_services:
                    _reset_moto()

    def __enter__(self) -> BatchemuHandle:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __call__(self, target: F) -> F:
        if inspect.isclass(target):
            return self._decorate_class(target)  # type: ignore[return-value]
        return self._decorate_function(target)

    def _decorate_function(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):
            raise TypeError("mock_batch decorates plain functions; use `with mock_batch():` in a coroutine")

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _decorate_class(self, klass: type) -> type:
        """Each test method (name starting with "test") gets its own server; setUp and fixtures run
        outside it."""
        for name in dir(klass):
            raw = inspect.getattr_static(klass, name)
            if name.startswith("test") and inspect.isfunction(raw):
                setattr(klass, name, MockBatch(self.fake_clock, self.services)(raw))
        return klass

    # -- the environment -------------------------------------------------------------------------
    def _variables(self, endpoint: str) -> dict[str, str]:
        from batchemu.integrations.log_sinks import moto_mock_active

        variables = {"AWS_ENDPOINT_URL_BATCH": endpoint}
        if self.services == "all":
            # Under moto's mock_aws every other service belongs to moto's in-process mock; a generic
            # endpoint would send them to this server instead.
            if not moto_mock_active():
                variables["AWS_ENDPOINT_URL"] = endpoint
        else:
            for service in self.services:
                variables[f"AWS_ENDPOINT_URL_{_service_variable(service)}"] = endpoint
        for name, value in DUMMY_CREDENTIALS.items():
            if not os.environ.get(name):
                variables[name] = value
        if not os.environ.get("AWS_DEFAULT_REGION"):
            variables["AWS_DEFAULT_REGION"] = DEFAULT_REGION
        return variables

    def _patch_environment(self, endpoint: str) -> None:
        import boto3

        variables = self._variables(endpoint)
        self._serves_other_services = any(
            name.startswith("AWS_ENDPOINT_URL") and name != "AWS_ENDPOINT_URL_BATCH" for name in variables
        )
        self._saved_environment = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        # boto3's default session may have resolved credentials before; a fresh one reads the new ones.
        self._saved_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, {}
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if "boto3" in sys.modules:
            sys.modules["boto3"].DEFAULT_SESSION = self._saved_session  # type: ignore[attr-defined]
        self._saved_session = None


def _reset_moto() -> None:
    """moto keeps one store per process, behind every in-process endpoint: the other services start (and
    end) empty, as under mock_aws. Never called while mock_aws is active: its state is the test's."""
    base_backend = sys.modules.get("moto.core.base_backend")
    if base_backend is not None:  # else moto was never loaded and holds nothing
        base_backend.BackendDict.reset()


@functools.cache
def _service_variable(service: str) -> str:
    """boto3 service name -> the suffix of its AWS_ENDPOINT_URL_* variable (from the service id:
    "logs" -> CLOUDWATCH_LOGS)."""
    import boto3

    session = boto3.session.Session()
    client = session.client(
        service, region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return str(client.meta.service_model.service_id).replace(" ", "_").upper()


def mock_batch(target: Any = None, *, fake_clock: bool = False, services: str | Iterable[str] = "all") -> Any:
    """Serves a fresh in-process emulator (simulated runner) for the decorated function, each test
    method of a decorated class, or a `with` block (which yields a BatchemuHandle), and points boto3 at
    it through the environment: AWS_ENDPOINT_URL_BATCH, AWS_ENDPOINT_URL (the endpoint serves every
    service, through moto) unless moto's mock_aws is active or `services` names the services to route,
    dummy credentials and AWS_DEFAULT_REGION when unset. Everything is restored afterwards.

    `fake_clock=True` puts the emulator on a FakeClock: jobs then move only through the handle
    (advance, settle, wait_for_status)."""
    mock = MockBatch(fake_clock=fake_clock, services=services)
    return mock if target is None else mock(target)

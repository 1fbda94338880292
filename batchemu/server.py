"""create_app(emulator): the WSGI app. Batch requests go through router -> parser -> validate -> handler
-> serializer; admin routes live under /_batchemu/."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
import time
import urllib.parse
import uuid
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from batchemu import __version__, arns, snapshots
from batchemu.emulator import Emulator
from batchemu.errors import ApiError, ClientException, ServerException, Unavailable
from batchemu.integrations.edge import Edge, MotoServices, ProxyServices
from batchemu.keepalive import AFTER_RESPONSE, KeepAliveRequestHandler, close_connections
from batchemu.persistence import Unusable
from batchemu.protocol import router, spec
from batchemu.protocol.auth import caller_of
from batchemu.protocol.parser import MAX_BODY_BYTES, parse_request
from batchemu.protocol.serializer import JSON_CONTENT_TYPE, serialize_error, serialize_result
from batchemu.protocol.validate import validate
from batchemu.service import ecs_agent
from batchemu.service.dispatch import dispatch, operation_table
from batchemu.service.operation import RequestContext

log = logging.getLogger("batchemu.server")
ADMIN_PREFIX = "/_batchemu/"
HTTP_REASONS = {status.value: status.phrase for status in HTTPStatus}
_READ_ONLY_PREFIXES = ("Describe", "List", "Get")
# A refused body is read and dropped up to this size so its sender gets the answer (see _read_body);
# beyond it the connection is closed and the sender may see it reset.
DISCARD_LIMIT_BYTES = 64 * 1024 * 1024


class BatchApp:
    def __init__(self, emulator: Emulator, others: MotoServices | ProxyServices) -> None:
        self.emulator = emulator
        self.others = others
        self.handlers = operation_table()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
            return self.admin(Request(environ))(environ, start_response)
        status, headers, body = self.batch(environ)
        start_response(f"{status} {HTTP_REASONS.get(status, 'Error')}", headers)
        return [body]

    # -- Batch API -------------------------------------------------------------------------------
    def batch(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """One Batch request straight from the WSGI environ (the hot path: no request or response
        objects): status, headers and body."""
        started = time.perf_counter()
        request_id = arns.new_id()
        operation_name = "-"
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        try:
            if not self.emulator.accepting:
                raise Unavailable("batchemu is shutting down; the request was not processed")
            caller = caller_of(environ)
            if caller.service not in (None, "batch"):
                raise ClientException(
                    f"The {caller.service} service is not served by this endpoint; only batch is"
                )
            route = router.route(method, path)
            operation_name = route.operation
            operation = spec.operation(route.operation)
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            params = parse_request(operation, route.path_params, query, _read_body(environ))
            parsed = validate(params, operation.input_shape)
            settings = self.emulator.settings
            backend = self.emulator.store.backend(
                caller.account(settings.default_account), caller.region or settings.default_region
            )
            # The scheduler moves what changed once the answer is out: a response never waits for a tick
            # (nor for the store lock or the interpreter a tick holds), and the tick runs while the client
            # reads it. A handler's own wake-up is put off until then, too.
            after = environ.get(AFTER_RESPONSE)
            wake = self.emulator.wake
            if after is not None:
                wake = functools.partial(after.append, self.emulator.wake)
            ctx = RequestContext(
                account=backend.account,
                region=backend.region,
                request_id=request_id,
                backend=backend,
                clock=self.emulator.clock,
                wake=wake,
                settings=settings,
            )
            with self.emulator.store.lock:
                result = dispatch(self.handlers, route.operation, ctx, parsed)
            if not route.operation.startswith(_READ_ONLY_PREFIXES):
                self.emulator.save()
                wake()
            status, body = 200, serialize_result(operation, result)
            headers = [("Content-Type", JSON_CONTENT_TYPE)]
        except ApiError as error:
            status, error_headers, body = serialize_error(error, request_id)
            headers = list(error_headers.items())
        except Exception:
            log.exception("internal error in %s", operation_name)
            status, error_headers, body = serialize_error(
                ServerException("An internal error occurred in batchemu"), request_id
            )
            headers = list(error_headers.items())
        headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        log.info("%s %s %d %.2fms", operation_name, path, status, (time.perf_counter() - started) * 1000)
        return status, headers, body

    # -- admin -----------------------------------------------------------------------------------
    def admin(self, request: Request) -> Response:
        action = request.path[len(ADMIN_PREFIX) :].strip("/")
        emulator = self.emulator
        if action == "ui" or action.startswith("ui/"):
            from batchemu import dashboard  # the dashboard loads only when someone opens it

            return dashboard.handle(request, emulator)
        if action == "health" and request.method == "GET":
            return _json(self.health(), 200 if emulator.accepting else 503)
        if action == "reset" and request.method == "POST":
            emulator.reset()
            self.others.reset()
            return _json({"status": "reset"})
        if action == "state" and request.method == "GET":
            return Response(snapshots.export_state(emulator), 200, content_type="application/vnd.sqlite3")
        if action == "state" and request.method == "POST":
            try:
                snapshots.import_state(emulator, request.get_data())
            except Unusable as error:
                return _json({"__type": "InvalidSnapshot", "message": str(error)}, 400)
            return _json({"status": "imported"})
        if action == "config" and request.method == "GET":
            return _json(public_settings(emulator))
        if action == "clock":
            if request.method == "POST":
                body = request.get_json(silent=True) or {}
                seconds = body.get("advance", 0)
                if not emulator.clock.is_fake:
                    return _json({"message": "the clock is the system clock and cannot be advanced"}, 400)
                if not isinstance(seconds, int | float) or seconds < 0:
                    return _json({"message": "advance must be a number of seconds >= 0"}, 400)
                emulator.advance(seconds)
            return _json({"now": emulator.clock.now(), "fake": emulator.clock.is_fake})
        if action.startswith("ecs/") and request.method == "GET":
            return self.ecs_agent(request, action[len("ecs/") :])
        if action == "instances" and request.method == "GET":
            return _json({"instances": emulator.instances()})
        if action == "instances/terminate" and request.method == "POST":
            return self.terminate_instances(request.get_json(silent=True) or {})
        if action.startswith("jobs/") and action.endswith("/history") and request.method == "GET":
            return self.job_history(action[len("jobs/") : -len("/history")])
        return _json(
            {"__type": "NotFound", "message": f"No admin route {request.method} {request.path}"}, 404
        )

    def terminate_instances(self, body: Any) -> Response:
        """{"instanceId": "i-..."} ends one instance; {"computeEnvironment": name or ARN} all of an
        environment's, {"computeEnvironment": ..., "spot": true} its Spot ones (a Spot interruption)."""
        instance_id = body.get("instanceId") if isinstance(body, dict) else None
        environment = body.get("computeEnvironment") if isinstance(body, dict) else None
        if not isinstance(instance_id, str | None) or not isinstance(environment, str | None):
            return _json({"message": "instanceId and computeEnvironment must be strings"}, 400)
        if not instance_id and not environment:
            return _json(
                {"message": "give instanceId, or computeEnvironment (with spot: true for Spot only)"}, 400
            )
        jobs = self.emulator.terminate_instances(instance_id, environment, bool(body.get("spot")))
        return _json({"jobsAffected": jobs})

    def job_history(self, job_id: str) -> Response:
        with self.emulator.store.lock:
            for backend in self.emulator.store.backends():
                job = backend.jobs.get(job_id)
                if job is not None:
                    history = [
                        {"at": at, "status": status, "statusReason": reason}
                        for at, status, reason in job.history
                    ]
                    return _json({"jobId": job.id, "jobArn": job.arn, "history": history})
        return _json({"__type": "NotFound", "message": f"No job {job_id}"}, 404)

    def ecs_agent(self, request: Request, path: str) -> Response:
        """What the ECS agent serves a task (metadata, role credentials); jobs find it through
        ECS_CONTAINER_METADATA_URI(_V4) and AWS_CONTAINER_CREDENTIALS_FULL_URI."""
        emulator = self.emulator
        try:
            body = ecs_agent.answer(
                emulator.store,
                path,
                request.headers.get("Authorization", ""),
                emulator.settings.internal_secret,
                emulator.clock.now(),
            )
        except ecs_agent.AgentError as error:
            return _json({"message": str(error)}, error.status)
        return _json(body)

    def health(self) -> dict[str, Any]:
        return {
            "status": "running" if self.emulator.accepting else "stopping",
            "version": __version__,
            "runner": self.emulator.runner.name,
            "runner_status": self.emulator.scheduler.placer.runner_unavailable() or "available",
            "services": {"batch": "batchemu", **self.others.services()},
        }


def public_settings(emulator: Emulator) -> dict[str, Any]:
    """The emulator's settings as JSON, secrets left out (auth keys show only their access keys)."""
    settings = dataclasses.asdict(emulator.settings)
    settings.pop("internal_secret", None)
    settings["auth_keys"] = sorted(settings.get("auth_keys") or {})
    settings["runner"] = emulator.runner.name
    settings["endpoint"] = emulator.endpoint
    settings["clock"] = "fake" if emulator.clock.is_fake else "system"
    return settings


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type=JSON_CONTENT_TYPE)


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, refused when larger than any Batch request can be. A refused body is still read
    (and dropped), up to DISCARD_LIMIT_BYTES: a client such as http.client sends its whole body before it
    reads the answer, and a server that closes the connection with unread bytes resets it, so the client
    would see a broken pipe instead of the 400 (werkzeug's own drain gives up after a 10 ms pause)."""
    stream = environ["wsgi.input"]
    if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):  # chunked upload
        body: bytes = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            _discard(stream, DISCARD_LIMIT_BYTES)
            raise ClientException(f"Request body exceeds the {MAX_BODY_BYTES} byte limit")
        return body
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ClientException("Content-Length is not a number") from None
    if length > MAX_BODY_BYTES:
        _discard(stream, min(length, DISCARD_LIMIT_BYTES))
        raise ClientException(f"Request body of {length} bytes exceeds the {MAX_BODY_BYTES} byte limit")
    return stream.read(length) if length > 0 else b""


def _discard(stream: Any, limit: int) -> None:
    """Reads and drops up to `limit` bytes of a refused body, 64 KiB at a time."""
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            return
        left -= len(chunk)


def create_app(emulator: Emulator) -> Edge:
    """Batch to BatchApp; every other service to moto in-process, or to --aws-endpoint."""
    endpoint = emulator.settings.aws_endpoint
    others: MotoServices | ProxyServices = ProxyServices(endpoint) if endpoint else MotoServices()
    settings = emulator.settings
    secret_for = None
    if settings.auth == "sigv4":

        def secret_for(access_key: str) -> str | None:
            """Configured keys, and the per-server credentials of batchemu's jobs and its own clients."""
            if access_key in settings.auth_keys:
                return settings.auth_keys[access_key]
            return settings.internal_secret if access_key.isdigit() and len(access_key) == 12 else None

    saver = emulator.moto_saver
    return Edge(
        BatchApp(emulator, others),
        others,
        secret_for,
        before_logs=emulator.flush_logs,
        before_ecs=emulator.before_ecs,
        after_write=saver.after_request if saver is not None else None,
    )


class QuietRequestHandler(KeepAliveRequestHandler):
    """werkzeug's access log is replaced by BatchApp's own line (operation, status, milliseconds), and
    the errors Python's HTTP server answers by itself (a request line over 64 KiB, bad HTTP) get AWS's
    JSON shape instead of an HTML page."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        error_type = "ClientException" if 400 <= code < 500 else "ServerException"
        text = message or self.responses.get(code, ("Error",))[0]
        body = json.dumps({"__type": error_type, "message": f"{text} (HTTP {code})"}).encode()
        self.log_error("code %d, message %s", code, text)
        self.send_response(code, None)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", JSON_CONTENT_TYPE)
        self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("http: " + format, *args)


def bind(host: str, port: int, emulator: Emulator) -> BaseWSGIServer:
    """Listens, then tells the emulator where it is served (job containers and its own writes to other
    services use that address)."""
    server = make_server(host, port, create_app(emulator), threaded=True, request_handler=QuietRequestHandler)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    emulator.bind_endpoint(f"http://{reachable}:{server.server_port}")
    return server


class ServerThread:
    """An emulator served on a background thread; for tests, the pytest plugin and mock_batch."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self.server = bind(host, port, emulator)
        self.host = host
        self.port = self.server.server_port
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="batchemu-http",
            daemon=True,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.emulator.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.emulator.stop()  # first: its last writes to other services go through this server
        self.server.shutdown()
        close_connections(self.server)
        self.server.server_close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

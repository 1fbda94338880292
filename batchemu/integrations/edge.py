"""One endpoint for every AWS service: Batch requests (by the SigV4 credential scope; unsigned requests
too) go to batchemu's own app; every other service goes to moto's server app, loaded on first use,
or is forwarded to the endpoint given by --aws-endpoint."""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from batchemu.errors import AccessDenied
from batchemu.integrations import moto_writes
from batchemu.integrations.service_errors import InOwnProtocol
from batchemu.protocol import sigv4
from batchemu.protocol.auth import caller_of

log = logging.getLogger("batchemu.edge")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_PEEKED_BYTES = 64 * 1024  # a GetLogEvents body is a few hundred bytes
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
}


def is_batch_request(environ: dict[str, Any]) -> bool:
    """Signed (or presigned) requests go where their credential scope says; unsigned ones are Batch's,
    so an unknown path gets Batch's JSON 404, except moto's own /moto-api/."""
    caller = caller_of(environ)
    if caller.service is not None:
        return caller.service == "batch"
    return not str(environ.get("PATH_INFO", "")).startswith("/moto-api")


class MotoServices:
    """moto's own server app (the one `moto_server` runs), created on first use to keep start-up fast."""

    def __init__(self) -> None:
        self._app: WSGIApp | None = None
        self._lock = threading.Lock()
        self._service_by_scope: dict[str, str | None] = {}
        self._wrapped: WSGIApp | None = None  # moto's app, its errors in each service's own protocol

    def reset(self) -> None:
        """Clears moto's state (all of it: moto keeps one store per process)."""
        if self._app is not None:
            from moto.core.base_backend import BackendDict

            BackendDict.reset()

    def services(self) -> dict[str, str]:
        from moto.backends import list_of_moto_modules

        return {name: "moto" for name in sorted(list_of_moto_modules()) if name != "batch"}

    def _moto(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

                    self._app = DomainDispatcherApplication(create_backend_app)
        return self._app

    def service_of(self, environ: dict[str, Any]) -> str | None:
        """The moto service a request goes to, as moto's dispatcher picks it (e.g. s3, stepfunctions);
        remembered by signing name, except s3's (S3 and S3 Control share it)."""
        scope = caller_of(environ).service
        if scope is not None and scope in self._service_by_scope:
            return self._service_by_scope[scope]
        app = self._moto()
        host = app.infer_service_region_host(environ, str(environ.get("PATH_INFO", "")))
        if host is None:
            return None
        with app.lock:
            found = app.get_backend_for_host(host)
        service = found if isinstance(found, str) else None
        if scope is not None and scope != "s3":
            self._service_by_scope[scope] = service
        return service

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._wrapped is None:
            self._wrapped = InOwnProtocol(self._moto())
        return self._wrapped(environ, start_response)


class ProxyServices:
    """Forwards requests unchanged (signature and Host header included) to another AWS emulator."""

    def __init__(self, endpoint: str) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"--aws-endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self._parsed = parsed
        self._host: str = parsed.hostname

    def reset(self) -> None:
        """The other endpoint's state is its owner's; batchemu's reset leaves it alone."""

    def services(self) -> dict[str, str]:
        return {"*": f"proxy to {self.endpoint}"}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = urllib.parse.quote(environ.get("PATH_INFO", ""), safe="/%:@!$&'()*+,;=~-._")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        connection_class = (
            http.client.HTTPSConnection if self._parsed.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(self._host, self._parsed.port, timeout=60)
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as error:
            message = f'{{"__type": "ServiceUnavailable", "message": "AWS endpoint {self.endpoint} unreachable: {error}"}}'
            start_response("502 Bad Gateway", [("Content-Type", "application/json")])
            return [message.encode()]
        finally:
            connection.close()
        kept = [
            (k, v)
            for k, v in response.getheaders()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
        ]
        kept.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {response.reason}", kept)
        return [payload]


def is_logs_request(environ: dict[str, Any]) -> bool:
    """A CloudWatch Logs request: by its credential scope, or (unsigned) by its X-Amz-Target."""
    service = caller_of(environ).service
    if service is not None:
        return service == "logs"
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("Logs_")


def requested_log_stream(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The (logGroupName, logStreamName) a GetLogEvents request reads; None for other requests. Reads the
    body and puts it back for the app."""
    if not str(environ.get("HTTP_X_AMZ_TARGET", "")).endswith(".GetLogEvents"):
        return None
    body = moto_writes.peek_body(environ, MAX_PEEKED_BYTES)
    if body is None:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None
    group, stream = (
        (request.get("logGroupName"), request.get("logStreamName"))
        if isinstance(request, dict)
        else (None, None)
    )
    return (group, stream) if isinstance(group, str) and isinstance(stream, str) else None


def is_ecs_request(environ: dict[str, Any]) -> bool:
    """An ECS request: by its credential scope, or (unsigned) by its X-Amz-Target."""
    service = caller_of(environ).service
    if service is not None:
        return service == "ecs"
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("AmazonEC2ContainerService")


class Edge:
    """The WSGI app the server runs. With `secret_for` (--auth sigv4) every AWS request must carry a
    valid SigV4 signature; the admin routes under /_batchemu/ are not AWS requests and stay open.
    `before_logs(stream)` runs before every CloudWatch Logs request is answered (job lines waiting to be
    written are written then: those of the (group, stream) a GetLogEvents reads, else all); `before_ecs()`
    before every ECS request (compute environments' clusters not made yet are made then).
    `after_write(service, scope)` runs after every request that changes a moto service, before its
    answer is sent (the state store saves what the request changed then; scope: moto_writes.scope_of)."""

    def __init__(
        self,
        batch: WSGIApp,
        others: MotoServices | ProxyServices,
        secret_for: Callable[[str], str | None] | None = None,
        before_logs: Callable[[tuple[str, str] | None], None] | None = None,
        before_ecs: Callable[[], None] | None = None,
        after_write: Callable[[str, moto_writes.Scope | None], None] | None = None,
    ) -> None:
        self.batch = batch
        self.others = others
        self.secret_for = secret_for
        self.before_logs = before_logs
        self.before_ecs = before_ecs
        self.after_write = after_write if isinstance(others, MotoServices) else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/_batchemu/"):
            return self.batch(environ, start_response)
        if self.secret_for is not None:
            try:
                self._verify(environ)
            except AccessDenied as error:
                body = json.dumps({"__type": error.code, "message": error.message}).encode()
                start_response(
                    "403 Forbidden",
                    [
                        ("Content-Type", "application/json"),
                        ("x-amzn-ErrorType", error.code),
                        ("Content-Length", str(len(body))),
                    ],
                )
                return [body]
        if is_batch_request(environ):
            return self.batch(environ, start_response)
        if self.before_logs is not None and is_logs_request(environ):
            self.before_logs(requested_log_stream(environ))
        elif self.before_ecs is not None and is_ecs_request(environ):
            self.before_ecs()
        if self.after_write is None or not moto_writes.is_write(environ):
            return self.others(environ, start_response)
        assert isinstance(self.others, MotoServices)
        service = self.others.service_of(environ)
        scope = moto_writes.scope_of(service, environ)  # read before moto reads the body
        answer = self.others(environ, start_response)  # moto's app has done the work when it returns
        if service is not None:
            self.after_write(service, scope)
        return answer

    def _verify(self, environ: dict[str, Any]) -> None:
        assert self.secret_for is not None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # the app reads it again
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        raw_path, _, raw_query = str(raw_uri).partition("?")
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        sigv4.verify(environ["REQUEST_METHOD"], raw_path, raw_query, headers, body, self.secret_for)

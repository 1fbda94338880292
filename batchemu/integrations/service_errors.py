"""Errors of the services moto serves, in each service's own protocol: a query-protocol service
(CloudFormation, IAM, STS, SNS...) answers errors as XML, even when the exception moto raised belongs to a
JSON service (moto's Batch model inside a CloudFormation stack raises a JSON error) or escaped moto as an
uncaught exception (which would otherwise become a JSON or HTML 500 that botocore cannot parse)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from batchemu.protocol.auth import caller_of

log = logging.getLogger("batchemu.edge")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
XML_PROTOCOLS = ("query", "ec2")
MAX_MESSAGE = 2000


@cache
def protocol_of(signing_name: str) -> str | None:
    """The protocol botocore's model gives the service signed as `signing_name` (query, ec2, json,
    rest-json, rest-xml...), or None when no model knows it."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    session = botocore.session.get_session()
    try:
        return str(session.get_service_model(signing_name).protocol)
    except UnknownServiceError:
        pass
    for name in session.get_available_services():  # signing name differs (monitoring, email...): rare
        try:
            model = session.get_service_model(name)
        except Exception:
            continue
        if signing_name in (model.signing_name, model.endpoint_prefix):
            return str(model.protocol)
    return None


def error_parts(status: int, body: bytes) -> tuple[str, str]:
    """(code, message) read from a non-XML error body: AWS's JSON shape, else the text itself."""
    code = "InternalFailure" if status >= 500 else "InvalidRequest"
    text = body.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return code, text[:MAX_MESSAGE] or f"HTTP {status}"
    if not isinstance(document, dict):
        return code, text[:MAX_MESSAGE]
    found = document.get("__type") or document.get("code") or document.get("Code") or code
    message = document.get("message") or document.get("Message") or ""
    return str(found).rsplit("#", 1)[-1], str(message)[:MAX_MESSAGE]


def xml_error(protocol: str, status: int, code: str, message: str, request_id: str) -> bytes:
    """AWS's XML error document of a query (ErrorResponse) or ec2 (Response/Errors) service."""
    inner = f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
    if protocol == "ec2":
        text = (
            f"<Response><Errors><Error>{inner}</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        text = (
            f"<ErrorResponse><Error><Type>{kind}</Type>{inner}</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()


def _status_code(status: str) -> int:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return 500


class InOwnProtocol:
    """Wraps moto's app: a request of an XML-protocol service that fails (an error status with a body that
    is not XML, or an exception out of moto) is answered with that service's XML error."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service = caller_of(environ).service
        protocol = protocol_of(service) if service else None
        if protocol not in XML_PROTOCOLS:
            return self.app(environ, start_response)
        held: list[Any] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            if _status_code(status) < 400:
                return start_response(status, headers, exc_info)  # type: ignore[no-any-return]
            held[:] = [status, headers]
            return lambda data: None

        try:
            body = self.app(environ, hold)
            if not held:
                return body
            data = b"".join(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()
        except Exception as error:
            log.exception("moto failed on a %s request", service)
            held[:] = ["500 Internal Server Error", []]
            data = json.dumps(
                {"__type": "InternalFailure", "message": f"{type(error).__name__}: {error}"}
            ).encode()
        return self._answer(protocol, held[0], held[1], data, start_response)

    def _answer(
        self, protocol: str, status: str, headers: list[tuple[str, str]], data: bytes, start_response: Any
    ) -> list[bytes]:
        if data.lstrip().startswith(b"<"):  # already XML
            start_response(status, headers)
            return [data]
        request_id = next(
            (v for k, v in headers if k.lower() in ("x-amzn-requestid", "x-amz-request-id")), None
        )
        request_id = request_id or str(uuid.uuid4())
        code, message = error_parts(_status_code(status), data)
        body = xml_error(protocol, _status_code(status), code, message, request_id)
        kept = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("content-type", "content-length", "x-amzn-errortype")
        ]
        kept += [
            ("Content-Type", "text/xml"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ]
        start_response(status, kept)
        return [body]

"""HTTP/1.1 keep-alive for werkzeug's threaded server: a request with a Content-Length body (every SDK call)
is answered with a Content-Length response on the same connection, which stays open for the next one.

werkzeug closes every connection after one response (its handler cannot tell where a request body ends
before the next request line), so each SDK call paid a TCP connect, a new server thread and a 10 ms drain
window. Here the body the application left unread is read to its declared end before the next request;
requests this cannot frame (chunked bodies, HTTP/1.0, `Connection: close`, a body over DRAIN_LIMIT_BYTES
left unread) fall back to werkzeug's own one-response-per-connection handling.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger("batchemu.http")
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # unread body the server still reads to keep the connection
IDLE_SECONDS = 120  # an idle kept-alive connection is closed after this (its thread ends)
_NO_BODY_STATUSES = frozenset({204, 304})
# environ key: a list the app may append callables to, called once the response has been written
# (absent on connections that are not kept alive: the app then does that work before answering).
AFTER_RESPONSE = "batchemu.after_response"


class _Body:
    """The request body as the application sees it: at most `length` bytes of the connection."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.left = length

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.readline, size)

    def _take(self, read: Callable[[int], bytes], size: int | None) -> bytes:
        if self.left <= 0:
            return b""
        data = read(self.left if size is None or size < 0 else min(size, self.left))
        self.left = self.left - len(data) if data else 0  # nothing: the client went away mid-body
        return data

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def drain(self) -> bool:
        """Reads what the application left; False when that is more than DRAIN_LIMIT_BYTES."""
        if self.left > DRAIN_LIMIT_BYTES:
            return False
        while self.left > 0:
            if not self.read(min(self.left, 64 * 1024)):
                return False
        return True


def close_connections(server: Any) -> None:
    """Ends the kept-alive connections of a server that has stopped listening, so their threads (which
    hold the server and its emulator) end too instead of idling for IDLE_SECONDS."""
    for connection in list(getattr(server, "kept_connections", ())):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class KeepAliveRequestHandler(WSGIRequestHandler):
    timeout = IDLE_SECONDS
    # Small responses on a kept connection: without TCP_NODELAY, Nagle's algorithm and the client's
    # delayed ACK hold each one back ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.__dict__.setdefault("kept_connections", set()).add(self.connection)

    def finish(self) -> None:
        self.server.__dict__.get("kept_connections", set()).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if not self._can_keep_alive():
            super().run_wsgi()
            return
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        body = _Body(self.rfile, int(self.headers.get("Content-Length") or 0))
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = True
        after: list[Callable[[], None]] = []  # the app's work for after the response has gone out
        environ[AFTER_RESPONSE] = after
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("written", []).append(data)

        try:
            chunks = self.server.app(environ, start_response)
            try:
                payload = b"".join([*answer.get("written", []), *chunks])
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except (ConnectionError, TimeoutError):
            raise  # the client went away: werkzeug's handle() ends the connection quietly
        except Exception:
            log.exception("request %s %s failed", self.command, self.path)
            self.close_connection = True
            self.send_error(500)
            return
        keep = body.drain()
        self._respond(
            answer.get("status", "500 INTERNAL SERVER ERROR"), answer.get("headers", []), payload, keep
        )
        for call in after:
            try:
                call()
            except Exception:
                log.exception("work after the response to %s %s failed", self.command, self.path)

    def _can_keep_alive(self) -> bool:
        if self.request_version != "HTTP/1.1" or self.close_connection:
            return False  # HTTP/1.0, or the client asked for Connection: close
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return False
        length = self.headers.get("Content-Length")
        return length is None or length.isdigit()

    def _respond(self, status: str, headers: list[tuple[str, str]], payload: bytes, keep: bool) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding", "keep-alive"):
                continue
            has_length |= lowered == "content-length"
            self.send_header(name, value)
        bodyless = self.command == "HEAD" or code < 200 or code in _NO_BODY_STATUSES
        if not has_length and not bodyless:
            self.send_header("Content-Length", str(len(payload)))
        if not keep:
            self.send_header("Connection", "close")  # sets close_connection
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        if not bodyless:
            self._headers_buffer.append(payload)  # type: ignore[attr-defined]
        self.flush_headers()  # the whole response in one write

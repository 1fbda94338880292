"""HTTP/1.1 keep-alive: SDK calls share a connection; what cannot be framed still closes it."""

from __future__ import annotations

import http.client
import socket

from batchemu import Emulator, ServerThread

SIGNED = {
    "Content-Type": "application/json",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/batch/aws4_request, "
    "SignedHeaders=host, Signature=x",
    "X-Amz-Date": "20260101T000000Z",
}


def connect(server: ServerThread) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(server.host, server.port, timeout=10)


def post(
    connection: http.client.HTTPConnection, body: str = "{}", **headers: str
) -> http.client.HTTPResponse:
    connection.request("POST", "/v1/describejobqueues", body=body, headers={**SIGNED, **headers})
    response = connection.getresponse()
    response.read()
    return response


def test_calls_share_one_connection(server: ServerThread) -> None:
    connection = connect(server)
    ports = []
    for _ in range(3):
        response = post(connection)
        assert response.status == 200 and response.getheader("Connection") is None
        assert connection.sock is not None
        ports.append(connection.sock.getsockname()[1])
    assert len(set(ports)) == 1


def test_a_body_the_application_does_not_read_is_skipped_before_the_next_request(
    server: ServerThread,
) -> None:
    connection = connect(server)
    connection.request("GET", "/_batchemu/health", body=b"x" * 100_000, headers={"Content-Length": "100000"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert post(connection).status == 200  # the next request line was found after the unread body


def test_head_answers_without_a_body_and_keeps_the_connection(server: ServerThread) -> None:
    connection = connect(server)
    connection.request("HEAD", "/_batchemu/health")
    response = connection.getresponse()
    assert response.read() == b""
    assert post(connection).status == 200


def test_connection_close_and_http_1_0_still_close(server: ServerThread) -> None:
    connection = connect(server)
    response = post(connection, Connection="close")
    assert response.getheader("Connection") == "close"
    with socket.create_connection((server.host, server.port), timeout=10) as raw:
        raw.sendall(b"GET /_batchemu/health HTTP/1.0\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):  # the server closes: recv returns b"" instead of timing out
            received += chunk
    assert received.startswith(b"HTTP/1.") and b" 200 " in received.split(b"\r\n", 1)[0]


def test_a_stopped_server_ends_its_kept_connections() -> None:
    server = ServerThread(Emulator.for_tests()).start()
    connection = connect(server)
    assert post(connection).status == 200
    server.stop()
    assert connection.sock is not None
    connection.sock.settimeout(5)
    assert connection.sock.recv(1) == b""  # closed by the server, not left idling for minutes

"""Errors of XML-protocol services come back as XML whatever moto answered."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from batchemu.integrations.service_errors import InOwnProtocol, protocol_of

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=123456789012/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host"
)


def run(app: Any, service: str) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(
        InOwnProtocol(app)({"HTTP_AUTHORIZATION": SIGNED.format(service=service)}, start_response)
    )
    return seen["status"], seen["headers"], body


def json_error(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("400 Bad Request", [("Content-Type", "application/json")])
    return [b'{"__type": "InvalidParameterValue", "message": "bad <value>"}']


def crash(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise KeyError("ComputeResources")


def test_botocore_names_the_protocols() -> None:
    assert (protocol_of("cloudformation"), protocol_of("ec2"), protocol_of("logs")) == (
        "query",
        "ec2",
        "json",
    )


def test_a_json_error_of_a_query_service_becomes_an_error_response() -> None:
    status, headers, body = run(json_error, "cloudformation")
    assert status.startswith("400") and headers["Content-Type"] == "text/xml"
    error = ET.fromstring(body).find("Error")
    assert error is not None
    assert [error.findtext(tag) for tag in ("Type", "Code", "Message")] == [
        "Sender",
        "InvalidParameterValue",
        "bad <value>",
    ]
    assert ET.fromstring(body).findtext("RequestId")


def test_an_exception_out_of_moto_is_a_receiver_error_in_xml() -> None:
    status, _, body = run(crash, "iam")
    error = ET.fromstring(body).find("Error")
    assert status.startswith("500") and error is not None
    assert (error.findtext("Type"), error.findtext("Code")) == ("Receiver", "InternalFailure")


def test_an_ec2_error_has_the_ec2_shape() -> None:
    _, _, body = run(json_error, "ec2")
    assert ET.fromstring(body).findtext("Errors/Error/Code") == "InvalidParameterValue"


def test_json_services_keep_their_answer() -> None:
    _, headers, body = run(json_error, "logs")
    assert headers["Content-Type"] == "application/json" and body.startswith(b"{")

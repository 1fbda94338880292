"""Errors on the wire: serialize_error's shape as botocore reads it, and the in-process server answering
bad requests (raw HTTP on 127.0.0.1 and boto3) with AWS-shaped JSON errors, never HTML or a 5xx."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import HeadersDict
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.utils import percent_encode

from batchemu import Emulator, ServerThread
from batchemu.errors import AccessDenied, ApiError, ClientException, ServerException, invalid_request
from batchemu.protocol import spec
from batchemu.protocol.parser import SerializationException
from batchemu.protocol.router import MethodNotAllowed, UnknownOperation
from batchemu.protocol.serializer import serialize_error
from batchemu.service.dispatch import operation_table

OPERATIONS = spec.operation_names()
RESOURCE_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/sleep30:1"
TAGS_PATH = "/v1/tags/" + percent_encode(RESOURCE_ARN)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- serialize_error, read by botocore -------------------------------------------------------------
def botocore_error(operation: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What botocore's rest-json parser makes of an error response (headers are case-insensitive there)."""
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    return create_parser("rest-json").parse(response, spec.operation(operation).output_shape)["Error"]


def test_client_exception_is_a_400() -> None:
    status, _, _ = serialize_error(ClientException("Job queue q does not exist"), "rid")
    assert status == 400


def test_server_exception_is_a_500() -> None:
    status, _, _ = serialize_error(ServerException("oops"), "rid")
    assert status == 500


@pytest.mark.parametrize("error", [ClientException("bad"), ServerException("oops")], ids=["client", "server"])
def test_error_type_header_names_the_error(error: ApiError) -> None:
    _, headers, _ = serialize_error(error, "rid")
    assert headers["x-amzn-ErrorType"] == error.code
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("error", [ClientException("bad"), ServerException("oops")], ids=["client", "server"])
def test_error_body_has_type_and_message(error: ApiError) -> None:
    _, _, body = serialize_error(error, "rid")
    assert json.loads(body) == {"__type": error.code, "message": error.message}


def test_common_validation_message_ends_with_the_request_id() -> None:
    _, _, body = serialize_error(invalid_request("Job name should match valid pattern"), "abc-123")
    assert json.loads(body)["message"] == (
        "Error executing request, Exception : Job name should match valid pattern, RequestId: abc-123"
    )


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (SerializationException("x"), 400, "SerializationException"),
        (UnknownOperation("x"), 404, "UnknownOperationException"),
        (MethodNotAllowed("x"), 405, "MethodNotAllowedException"),
        (AccessDenied("x"), 403, "UnrecognizedClientException"),
    ],
)
def test_specialised_errors_keep_their_status_and_code(error: ApiError, status: int, code: str) -> None:
    got_status, headers, body = serialize_error(error, "rid")
    assert (got_status, headers["x-amzn-ErrorType"], json.loads(body)["__type"]) == (status, code, code)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_botocore_reads_a_client_exception_for_every_operation(operation: str) -> None:
    status, headers, body = serialize_error(ClientException("Job queue q does not exist"), "rid")
    error = botocore_error(operation, status, headers, body)
    assert error == {"Code": "ClientException", "Message": "Job queue q does not exist"}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_botocore_reads_a_server_exception_for_every_operation(operation: str) -> None:
    status, headers, body = serialize_error(ServerException("internal"), "rid")
    error = botocore_error(operation, status, headers, body)
    assert error == {"Code": "ServerException", "Message": "internal"}


def test_botocore_finds_the_code_from_the_header_alone() -> None:
    status, headers, _ = serialize_error(ClientException("bad"), "rid")
    error = botocore_error("SubmitJob", status, headers, json.dumps({"message": "bad"}).encode())
    assert error["Code"] == "ClientException"


def test_botocore_finds_the_code_from_the_body_alone() -> None:
    status, _, body = serialize_error(ClientException("bad"), "rid")
    error = botocore_error("SubmitJob", status, {}, body)
    assert error["Code"] == "ClientException"


# -- the in-process server over raw HTTP -------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(server: ServerThread, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        sent_headers = {"Content-Type": "application/json", **headers} if body is not None else headers
        connection.request(method, path, body=body, headers=sent_headers)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def post(server: ServerThread, path: str, payload: Any) -> Reply:
    return send(server, "POST", path, json.dumps(payload).encode())


def assert_aws_error(reply: Reply, status: int, code: str) -> str:
    """An AWS-shaped JSON error; returns its message."""
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.headers["x-amzn-ErrorType"] == code
    body = reply.json()
    assert body["__type"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]


def test_malformed_json_body_is_a_400_json_error(server: ServerThread) -> None:
    reply = send(server, "POST", "/v1/submitjob", b'{"jobName": ')
    assert_aws_error(reply, 400, "SerializationException")


def test_json_array_body_is_a_400(server: ServerThread) -> None:
    reply = send(server, "POST", "/v1/submitjob", b'["jobName", "j"]')
    assert_aws_error(reply, 400, "SerializationException")


def test_body_that_is_not_utf8_is_a_400(server: ServerThread) -> None:
    reply = send(server, "POST", "/v1/describejobs", b"\xff\xfe{")
    assert_aws_error(reply, 400, "SerializationException")


def test_deeply_nested_json_body_is_a_400_not_a_crash(server: ServerThread) -> None:
    reply = send(server, "POST", "/v1/describejobs", b"[" * 200_000 + b"]" * 200_000)
    assert_aws_error(reply, 400, "SerializationException")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_number_constants_are_a_400(server: ServerThread, constant: bytes) -> None:
    body = (
        b'{"name": "p", "fairsharePolicy": {"shareDistribution": [{"shareIdentifier": "a", "weightFactor": '
    )
    reply = send(server, "POST", "/v1/createschedulingpolicy", body + constant + b"}]}}")
    assert_aws_error(reply, 400, "SerializationException")


def test_body_over_the_size_limit_is_a_400(server: ServerThread) -> None:
    payload = json.dumps({"jobs": ["x" * (1024 * 1024 + 1)]}).encode()
    message = assert_aws_error(send(server, "POST", "/v1/describejobs", payload), 400, "ClientException")
    assert "byte limit" in message


def test_an_empty_body_on_a_post_is_an_empty_object(server: ServerThread, emulator: Emulator) -> None:
    reply = send(server, "POST", "/v1/submitjob", b"")
    message = assert_aws_error(reply, 400, "ClientException")
    assert '"jobName"' in message and '"jobQueue"' in message and '"jobDefinition"' in message


def test_missing_required_member_names_it(server: ServerThread) -> None:
    reply = post(server, "/v1/submitjob", {"jobName": "j", "jobQueue": "q"})
    assert '"jobDefinition"' in assert_aws_error(reply, 400, "ClientException")


def test_null_required_member_counts_as_missing(server: ServerThread) -> None:
    reply = post(server, "/v1/submitjob", {"jobName": "j", "jobQueue": "q", "jobDefinition": None})
    assert '"jobDefinition"' in assert_aws_error(reply, 400, "ClientException")


def test_wrong_type_is_a_client_exception_naming_the_member(server: ServerThread) -> None:
    reply = post(server, "/v1/createjobqueue", {"jobQueueName": "q", "priority": "high"})
    message = assert_aws_error(reply, 400, "ClientException")
    assert "priority" in message and "integer" in message


def test_boolean_for_an_integer_is_a_client_exception(server: ServerThread) -> None:
    reply = post(server, "/v1/createjobqueue", {"jobQueueName": "q", "priority": True})
    assert "priority" in assert_aws_error(reply, 400, "ClientException")


def test_enum_violation_lists_the_allowed_values(server: ServerThread) -> None:
    reply = post(server, "/v1/registerjobdefinition", {"jobDefinitionName": "d", "type": "bogus"})
    message = assert_aws_error(reply, 400, "ClientException")
    assert "'bogus'" in message and "container" in message and "multinode" in message


def test_unknown_member_is_a_client_exception_naming_it(server: ServerThread) -> None:
    reply = post(server, "/v1/submitjob", {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "bogus": 1})
    assert '"bogus"' in assert_aws_error(reply, 400, "ClientException")


def test_tags_map_with_51_entries_is_refused(server: ServerThread) -> None:
    reply = post(server, TAGS_PATH, {"tags": {f"k{i}": "v" for i in range(51)}})
    message = assert_aws_error(reply, 400, "ClientException")
    assert "tags" in message and "50" in message


def test_empty_tags_map_is_refused(server: ServerThread) -> None:
    reply = post(server, TAGS_PATH, {"tags": {}})
    assert "tags" in assert_aws_error(reply, 400, "ClientException")


def test_tag_key_over_128_characters_in_the_query_is_refused(server: ServerThread) -> None:
    reply = send(server, "DELETE", f"{TAGS_PATH}?tagKeys={'k' * 129}")
    assert "128" in assert_aws_error(reply, 400, "ClientException")


def test_unknown_path_is_a_404_json_error(server: ServerThread) -> None:
    assert_aws_error(post(server, "/v1/nosuchthing", {}), 404, "UnknownOperationException")


def test_root_path_is_a_404_json_error_not_html(server: ServerThread) -> None:
    assert_aws_error(send(server, "GET", "/"), 404, "UnknownOperationException")


def test_wrong_method_on_a_known_path_is_a_405_json_error(server: ServerThread) -> None:
    assert_aws_error(send(server, "GET", "/v1/submitjob"), 405, "MethodNotAllowedException")


def test_a_service_other_than_batch_in_the_credential_scope_goes_to_moto(server: ServerThread) -> None:
    authorization = (
        "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host"
    )
    reply = send(server, "GET", "/", Authorization=authorization)
    assert reply.status == 200
    assert b"ListAllMyBucketsResult" in reply.body


def test_an_unexpected_handler_error_is_a_500_server_exception(
    server: ServerThread, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Any, request: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(server.server.app.batch.handlers, "DescribeJobQueues", broken)
    message = assert_aws_error(post(server, "/v1/describejobqueues", {}), 500, "ServerException")
    assert "a bug" not in message


REQUESTS = {
    "valid": ("POST", "/v1/describejobqueues", b"{}"),
    "malformed-json": ("POST", "/v1/submitjob", b"{"),
    "invalid-params": ("POST", "/v1/submitjob", b"{}"),
    "unknown-path": ("POST", "/v1/nothing", b"{}"),
    "wrong-method": ("PUT", "/v1/submitjob", b"{}"),
    "tags": ("GET", TAGS_PATH, None),
}


@pytest.mark.parametrize("request_kind", sorted(REQUESTS))
def test_every_response_has_a_uuid_request_id(
    server: ServerThread, emulator: Emulator, request_kind: str
) -> None:
    method, path, body = REQUESTS[request_kind]
    assert UUID.match(send(server, method, path, body).headers["x-amzn-RequestId"])


def test_boto3_reads_the_request_id_of_a_success(batch: Any) -> None:
    assert UUID.match(batch.describe_job_queues()["ResponseMetadata"]["RequestId"])


def test_each_request_gets_its_own_request_id(server: ServerThread) -> None:
    ids = {send(server, "POST", "/v1/nothing", b"{}").headers["x-amzn-RequestId"] for _ in range(3)}
    assert len(ids) == 3


def _empty_request(operation: str) -> tuple[str, str, bytes | None]:
    http_spec = spec.operation(operation).http
    method = http_spec["method"]
    path = http_spec["requestUri"].replace("{resourceArn}", percent_encode(RESOURCE_ARN))
    return method, path, (b"{}" if method == "POST" else None)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_empty_body_gets_200_or_an_aws_shaped_4xx(
    server: ServerThread, emulator: Emulator, operation: str
) -> None:
    reply = send(server, *_empty_request(operation))
    assert reply.status == 200 or 400 <= reply.status < 500, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert isinstance(reply.json(), dict)
    if reply.status != 200:
        assert reply.headers["x-amzn-ErrorType"] == reply.json()["__type"]
        assert reply.json()["message"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_answers_with_a_request_id(
    server: ServerThread, emulator: Emulator, operation: str
) -> None:
    assert UUID.match(send(server, *_empty_request(operation)).headers["x-amzn-RequestId"])


# -- through boto3 ------------------------------------------------------------------------------------
def make_client(endpoint: str, region: str = "us-east-1", access_key: str = "testing", **config: Any) -> Any:
    return boto3.client(
        "batch",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture
def unchecked(server: ServerThread, emulator: Emulator) -> Any:
    """A boto3 client with botocore's own parameter validation off, as other SDKs and raw callers are."""
    return make_client(server.endpoint, parameter_validation=False)


def test_boto3_sees_missing_required_member_as_client_exception(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientException) as raised:
        unchecked.submit_job(jobName="j", jobQueue="q")
    assert '"jobDefinition"' in raised.value.response["Error"]["Message"]


def test_boto3_sees_wrong_type_as_client_exception(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientException) as raised:
        unchecked.submit_job(jobName=5, jobQueue="q", jobDefinition="d")
    assert "jobName" in raised.value.response["Error"]["Message"]


def test_boto3_enum_violation_reaches_the_server_and_is_refused(batch: Any) -> None:
    with pytest.raises(batch.exceptions.ClientException) as raised:
        batch.register_job_definition(jobDefinitionName="d", type="bogus")
    assert "type" in raised.value.response["Error"]["Message"]


def test_boto3_tag_key_over_128_characters_is_refused(batch: Any) -> None:
    with pytest.raises(batch.exceptions.ClientException) as raised:
        batch.untag_resource(resourceArn=RESOURCE_ARN, tagKeys=["k" * 129])
    assert "128" in raised.value.response["Error"]["Message"]


def test_boto3_error_text_follows_the_aws_template(unchecked: Any) -> None:
    with pytest.raises(ClientError) as raised:
        unchecked.submit_job(jobName="j", jobQueue="q")
    assert str(raised.value).startswith(
        "An error occurred (ClientException) when calling the SubmitJob operation: Parameter validation failed"
    )


def test_boto3_error_carries_the_request_id(batch: Any) -> None:
    with pytest.raises(ClientError) as raised:
        batch.untag_resource(resourceArn=RESOURCE_ARN, tagKeys=["k" * 129])
    metadata = raised.value.response["ResponseMetadata"]
    assert UUID.match(metadata["RequestId"])
    assert metadata["HTTPStatusCode"] == 400


# -- who is calling: region from the credential scope, account from a 12-digit access key -------------
def _backends(emulator: Emulator) -> set[tuple[str, str]]:
    return {(backend.account, backend.region) for backend in emulator.store.backends()}


def test_region_and_account_come_from_the_signature(server: ServerThread, emulator: Emulator) -> None:
    client = make_client(server.endpoint, region="eu-west-2", access_key="111122223333")
    try:
        client.describe_job_queues()
    except client.exceptions.ClientException:
        pass  # not implemented yet: the backend is chosen before the handler runs
    assert _backends(emulator) == {("111122223333", "eu-west-2")}


def test_an_access_key_that_is_not_12_digits_uses_the_default_account(
    server: ServerThread, emulator: Emulator
) -> None:
    client = make_client(server.endpoint, region="ap-south-1", access_key="AKIAEXAMPLE")
    try:
        client.describe_job_queues()
    except client.exceptions.ClientException:
        pass
    assert _backends(emulator) == {(emulator.settings.default_account, "ap-south-1")}


def test_an_unsigned_request_uses_the_default_account_and_region(
    server: ServerThread, emulator: Emulator
) -> None:
    send(server, "POST", "/v1/describejobqueues", b"{}")
    assert _backends(emulator) == {(emulator.settings.default_account, emulator.settings.default_region)}


@pytest.mark.skipif(
    "CreateComputeEnvironment" not in operation_table()
    or "DescribeComputeEnvironments" not in operation_table(),
    reason="CreateComputeEnvironment / DescribeComputeEnvironments are not implemented yet",
)
def test_resources_are_isolated_by_account_and_region(server: ServerThread, emulator: Emulator) -> None:
    owner = make_client(server.endpoint, region="us-east-1", access_key="111122223333")
    owner.create_compute_environment(computeEnvironmentName="isolated", type="UNMANAGED")
    other_account = make_client(server.endpoint, region="us-east-1", access_key="444455556666")
    other_region = make_client(server.endpoint, region="eu-west-1", access_key="111122223333")
    assert other_account.describe_compute_environments()["computeEnvironments"] == []
    assert other_region.describe_compute_environments()["computeEnvironments"] == []
    [found] = owner.describe_compute_environments()["computeEnvironments"]
    assert (
        found["computeEnvironmentArn"] == "arn:aws:batch:us-east-1:111122223333:compute-environment/isolated"
    )

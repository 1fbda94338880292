"""botocore is the judge in both directions: for every operation, what a real boto3 client sends parses
back to the params it was given, and what we serialise parses in botocore to the data we meant."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import Shape
from botocore.parsers import create_parser

from batchemu.protocol import spec
from batchemu.protocol.parser import parse_request
from batchemu.protocol.router import route
from batchemu.protocol.serializer import serialize_result, to_wire
from batchemu.protocol.validate import validate

OPERATIONS = spec.operation_names()
RESOURCE_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/sleep30:1"
# Characters that need escaping in a path, a query string or JSON, so encoding mistakes show.
AWKWARD = " /:&=+%?#é"


# -- a deterministic representative value for a shape --------------------------------------------
def sample(shape: Shape, name: str, minimal: bool = False) -> Any:
    """Every member (or only required ones if `minimal`), each value inside the model's constraints."""
    kind = shape.type_name
    if kind == "structure":
        wanted = shape.required_members if minimal else list(shape.members)
        return {member: sample(shape.members[member], member, minimal) for member in wanted}
    if kind == "list":
        return [
            sample(shape.member, f"{name}{i}", minimal) for i in range(_count(shape, 1 if minimal else 2))
        ]
    if kind == "map":
        return {
            sample(shape.key, f"{name}Key{i}"): sample(shape.value, f"{name}Value{i}", minimal)
            for i in range(_count(shape, 1))
        }
    if kind == "string":
        return _string(shape, name)
    if kind in ("integer", "long"):
        return _clamp(1_700_000_000_123 if kind == "long" else 7, shape)
    if kind in ("float", "double"):
        return _clamp(2.5, shape)
    if kind == "boolean":
        return True
    raise AssertionError(f"the Batch model grew a {kind} shape ({shape.name}); teach sample() about it")


def _count(shape: Shape, wanted: int) -> int:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", wanted)
    return max(low, min(wanted, high))


def _clamp(value: Any, shape: Shape) -> Any:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None and value > high:
        value = high
    if low is not None and value < low:
        value = low
    return value


def _string(shape: Shape, name: str) -> str:
    if shape.enum:
        return shape.enum[0]
    if name == "resourceArn":
        return RESOURCE_ARN
    text = f"{name}{AWKWARD}"
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max")
    text = text.ljust(low, "x")
    return text[:high] if high is not None else text


def to_snake(value: Any, shape: Shape) -> Any:
    """Wire (camelCase) data renamed as the service layer names it; map keys are data and stay."""
    kind = shape.type_name
    if kind == "structure":
        return {spec.python_name(key): to_snake(item, shape.members[key]) for key, item in value.items()}
    if kind == "list":
        return [to_snake(item, shape.member) for item in value]
    if kind == "map":
        return {key: to_snake(item, shape.value) for key, item in value.items()}
    return value


# -- a boto3 client whose requests are captured instead of sent -----------------------------------
class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


class CapturingClient:
    """A real boto3 client; before-send hands back the prepared request and a canned 200."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "batch",
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",  # never contacted: before-send answers
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.requests: list[AWSPreparedRequest] = []
        self.client.meta.events.register("before-send.batch", self._capture)

    def _capture(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Body(b"{}"))

    def send(self, operation: str, params: dict[str, Any]) -> AWSPreparedRequest:
        getattr(self.client, xform_name(operation))(**copy.deepcopy(params))
        return self.requests[-1]


@pytest.fixture(scope="module")
def boto3_client() -> CapturingClient:
    return CapturingClient()


def parse_captured(request: AWSPreparedRequest) -> tuple[str, dict[str, Any]]:
    """Route and parse a captured request as the server does: the dev server unquotes the path and
    werkzeug parses the query string keeping blank values."""
    url = urlsplit(request.url)
    matched = route(request.method, unquote(url.path))
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    query = parse_qs(url.query, keep_blank_values=True)
    return matched.operation, parse_request(
        spec.operation(matched.operation), matched.path_params, query, body
    )


VARIANTS = [pytest.param(False, id="all-members"), pytest.param(True, id="required-only")]


# -- requests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("minimal", VARIANTS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_botocore_request_parses_back_to_the_params_it_was_given(
    boto3_client: CapturingClient, operation: str, minimal: bool
) -> None:
    shape = spec.operation(operation).input_shape
    params = sample(shape, "input", minimal)
    routed, parsed = parse_captured(boto3_client.send(operation, params))
    assert routed == operation
    assert parsed == {**idempotency_tokens(shape, parsed), **params}


def idempotency_tokens(shape: Shape, parsed: dict[str, Any]) -> dict[str, Any]:
    """Members botocore fills in itself (a UUID) when the caller leaves them out."""
    return {
        name: parsed[name]
        for name, member in shape.members.items()
        if member.metadata.get("idempotencyToken")
    }


def test_botocore_fills_in_an_idempotency_token_the_parser_keeps(boto3_client: CapturingClient) -> None:
    params = {
        "jobName": "j",
        "jobQueue": "q",
        "serviceJobType": "SAGEMAKER_TRAINING",
        "serviceRequestPayload": "{}",
    }
    parsed = parse_captured(boto3_client.send("SubmitServiceJob", params))[1]
    assert len(parsed.pop("clientToken")) == 36
    assert parsed == params


@pytest.mark.parametrize("minimal", VARIANTS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_validated_params_render_back_to_the_same_wire_params(operation: str, minimal: bool) -> None:
    shape = spec.operation(operation).input_shape
    params = sample(shape, "input", minimal)
    assert to_wire(validate(params, shape), shape) == params


@pytest.mark.parametrize("operation", OPERATIONS)
def test_validate_returns_python_names_at_every_level(operation: str) -> None:
    shape = spec.operation(operation).input_shape
    params = sample(shape, "input")
    assert validate(params, shape) == to_snake(params, shape)


def test_tag_resource_request_keeps_the_arn_whole_and_the_tags_in_the_body(
    boto3_client: CapturingClient,
) -> None:
    request = boto3_client.send("TagResource", {"resourceArn": RESOURCE_ARN, "tags": {"team": "a/b"}})
    assert request.method == "POST"
    assert parse_captured(request) == ("TagResource", {"resourceArn": RESOURCE_ARN, "tags": {"team": "a/b"}})


def test_untag_resource_repeats_tag_keys_in_the_query(boto3_client: CapturingClient) -> None:
    request = boto3_client.send("UntagResource", {"resourceArn": RESOURCE_ARN, "tagKeys": ["k1", "k&2"]})
    assert request.method == "DELETE"
    assert urlsplit(request.url).query == "tagKeys=k1&tagKeys=k%262"
    assert parse_captured(request)[1] == {"resourceArn": RESOURCE_ARN, "tagKeys": ["k1", "k&2"]}


def test_list_tags_for_resource_is_a_get_without_a_body(boto3_client: CapturingClient) -> None:
    request = boto3_client.send("ListTagsForResource", {"resourceArn": RESOURCE_ARN})
    assert request.method == "GET"
    assert not request.body
    assert parse_captured(request) == ("ListTagsForResource", {"resourceArn": RESOURCE_ARN})


def test_a_repeated_query_member_becomes_a_list_in_order() -> None:
    operation = spec.operation("UntagResource")
    parsed = parse_request(operation, {"resourceArn": RESOURCE_ARN}, {"tagKeys": ["b", "a"]}, b"")
    assert parsed == {"resourceArn": RESOURCE_ARN, "tagKeys": ["b", "a"]}


def test_the_path_arn_wins_over_one_in_the_body() -> None:
    operation = spec.operation("TagResource")
    body = json.dumps({"resourceArn": "arn:other", "tags": {"k": "v"}}).encode()
    parsed = parse_request(operation, {"resourceArn": RESOURCE_ARN}, {}, body)
    assert parsed["resourceArn"] == RESOURCE_ARN


# -- responses -------------------------------------------------------------------------------------
def botocore_parse(operation: str, body: bytes) -> dict[str, Any]:
    response = {"status_code": 200, "headers": {}, "body": body}
    parsed = create_parser("rest-json").parse(response, spec.operation(operation).output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


@pytest.mark.parametrize("operation", OPERATIONS)
def test_serialized_result_parses_in_botocore_to_the_same_data(operation: str) -> None:
    shape = spec.operation(operation).output_shape
    wire = sample(shape, "output")
    body = serialize_result(spec.operation(operation), to_snake(wire, shape))
    assert botocore_parse(operation, body) == wire


@pytest.mark.parametrize("operation", OPERATIONS)
def test_serialized_result_uses_only_model_member_names(operation: str) -> None:
    shape = spec.operation(operation).output_shape
    body = json.loads(serialize_result(spec.operation(operation), to_snake(sample(shape, "output"), shape)))
    assert set(body) == set(shape.members)


def test_long_timestamps_are_json_integers_of_milliseconds() -> None:
    job = {
        "job_name": "j",
        "job_id": "1",
        "job_queue": "q",
        "status": "RUNNING",
        "created_at": 1559237299852,
        "started_at": 1559237625206,
        "job_definition": "d",
    }
    body = serialize_result(spec.operation("DescribeJobs"), {"jobs": [job]})
    assert b'"createdAt":1559237299852' in body
    assert botocore_parse("DescribeJobs", body)["jobs"][0]["startedAt"] == 1559237625206


def test_vcpu_members_are_rendered_with_their_wire_names() -> None:
    resources = {"type": "EC2", "max_vcpus": 8, "min_vcpus": 0, "desired_vcpus": 2, "subnets": []}
    environment = {
        "compute_environment_name": "ce",
        "compute_environment_arn": "arn",
        "compute_resources": resources,
        "unmanaged_vcpus": 4,
    }
    body = serialize_result(
        spec.operation("DescribeComputeEnvironments"), {"compute_environments": [environment]}
    )
    [parsed] = botocore_parse("DescribeComputeEnvironments", body)["computeEnvironments"]
    assert parsed["computeResources"] == {
        "type": "EC2",
        "maxvCpus": 8,
        "minvCpus": 0,
        "desiredvCpus": 2,
        "subnets": [],
    }
    assert parsed["unmanagedvCpus"] == 4


def test_serialize_result_drops_none_and_unknown_members() -> None:
    result = {"job_arn": "arn:j", "job_name": "n", "job_id": None, "internal_note": "secret"}
    assert json.loads(serialize_result(spec.operation("SubmitJob"), result)) == {
        "jobArn": "arn:j",
        "jobName": "n",
    }


def test_serialize_result_keeps_map_keys_as_given() -> None:
    body = serialize_result(
        spec.operation("ListTagsForResource"), {"tags": {"camelKey": "v", "snake_key": "w"}}
    )
    assert json.loads(body) == {"tags": {"camelKey": "v", "snake_key": "w"}}


def test_an_operation_without_output_members_serializes_to_an_empty_object() -> None:
    assert spec.operation("DeleteComputeEnvironment").output_shape.members == {}
    assert serialize_result(spec.operation("DeleteComputeEnvironment"), {}) == b"{}"


# -- naming -------------------------------------------------------------------------------------------
def _structures() -> list[Shape]:
    model = spec.service_model()
    shapes = (model.shape_for(name) for name in model.shape_names)
    return [shape for shape in shapes if shape.type_name == "structure"]


def test_python_names_are_unique_within_every_structure() -> None:
    clashes = {
        shape.name: names
        for shape in _structures()
        if len(set(names := [spec.python_name(member) for member in shape.members])) != len(names)
    }
    assert clashes == {}


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("maxvCpus", "max_vcpus"),
        ("minvCpus", "min_vcpus"),
        ("desiredvCpus", "desired_vcpus"),
        ("unmanagedvCpus", "unmanaged_vcpus"),
        ("computeEnvironmentArn", "compute_environment_arn"),
        ("jobId", "job_id"),
        ("eksProperties", "eks_properties"),
    ],
)
def test_python_name_of_a_wire_member(wire: str, python: str) -> None:
    assert spec.python_name(wire) == python

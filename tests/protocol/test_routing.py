"""Routing: every operation of botocore's Batch model is found from its method and requestUri, and the
tagging paths carry a percent-encoded ARN."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from botocore.utils import percent_encode

from batchemu.errors import ClientException
from batchemu.protocol import router, spec
from batchemu.protocol.router import MethodNotAllowed, Route, UnknownOperation, route

OPERATIONS = spec.operation_names()
FIXED_PATH_OPERATIONS = [name for name in OPERATIONS if "{" not in spec.operation(name).http["requestUri"]]
TAG_OPERATIONS = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}
JOB_DEFINITION_ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/sleep30:1"


def server_path(encoded: str) -> str:
    """What the router is given: werkzeug's dev server unquotes the raw path (so %2F becomes '/')."""
    return unquote(encoded)


def tags_path(arn: str) -> str:
    """The path botocore sends: the ARN percent-encoded as one segment, as its rest serializer does."""
    return "/v1/tags/" + percent_encode(arn)


def test_the_model_has_operations_to_route() -> None:
    assert len(OPERATIONS) >= 25
    assert {"SubmitJob", "DescribeJobs", "TagResource", "UntagResource"} <= set(OPERATIONS)


@pytest.mark.parametrize("operation", FIXED_PATH_OPERATIONS)
def test_every_fixed_path_operation_routes_from_its_method_and_request_uri(operation: str) -> None:
    http = spec.operation(operation).http
    assert route(http["method"], http["requestUri"]) == Route(operation, {})


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_routes_from_its_model_uri_with_parameters_filled(operation: str) -> None:
    http = spec.operation(operation).http
    path = http["requestUri"].replace("{resourceArn}", percent_encode(JOB_DEFINITION_ARN))
    assert route(http["method"], server_path(path)).operation == operation


def test_every_tag_operation_in_the_model_uses_the_tags_path() -> None:
    uris = {name: spec.operation(name).http for name in TAG_OPERATIONS.values()}
    assert {http["method"]: name for name, http in uris.items()} == TAG_OPERATIONS
    assert {http["requestUri"] for http in uris.values()} == {"/v1/tags/{resourceArn}"}


def test_botocore_encodes_slash_and_colon_in_the_arn() -> None:
    assert tags_path(JOB_DEFINITION_ARN) == (
        "/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A123456789012%3Ajob-definition%2Fsleep30%3A1"
    )


@pytest.mark.parametrize(("method", "operation"), sorted(TAG_OPERATIONS.items()))
def test_tags_path_routes_by_method_with_the_decoded_arn(method: str, operation: str) -> None:
    result = route(method, server_path(tags_path(JOB_DEFINITION_ARN)))
    assert result == Route(operation, {"resourceArn": JOB_DEFINITION_ARN})


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:batch:eu-west-1:111122223333:job/4d6b1c2e-8f1b-4c1e-9f7e-3f0e2a1b5c6d",
        "arn:aws:batch:us-east-1:123456789012:compute-environment/my-ce",
        "arn:aws:batch:us-east-1:123456789012:job-queue/a/b/c",
        "arn:aws:batch:us-east-1:123456789012:scheduling-policy/fair_share",
    ],
)
def test_tags_path_keeps_every_slash_of_the_arn(arn: str) -> None:
    assert route("GET", server_path(tags_path(arn))).path_params == {"resourceArn": arn}


def test_tags_path_accepts_a_lower_case_method() -> None:
    assert route("delete", "/v1/tags/" + JOB_DEFINITION_ARN).operation == "UntagResource"


def test_tags_path_without_an_arn_is_a_client_exception() -> None:
    with pytest.raises(ClientException) as raised:
        route("GET", "/v1/tags/")
    assert raised.value.status == 400
    assert "resourceArn" in raised.value.message


def test_put_on_the_tags_path_is_method_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        route("PUT", "/v1/tags/" + JOB_DEFINITION_ARN)
    assert raised.value.status == 405


@pytest.mark.parametrize("path", ["/v1/SubmitJob", "/V1/SUBMITJOB", "/v1/submitJob"])
def test_fixed_paths_match_regardless_of_case(path: str) -> None:
    assert route("POST", path).operation == "SubmitJob"


def test_a_trailing_slash_on_a_fixed_path_still_routes() -> None:
    assert route("POST", "/v1/describejobs/").operation == "DescribeJobs"


def test_the_method_matches_regardless_of_case() -> None:
    assert route("post", "/v1/canceljob").operation == "CancelJob"


@pytest.mark.parametrize(
    "path", ["/", "/v1/nosuchoperation", "/v2/submitjob", "/v1/submitjob/extra", "/index.html"]
)
def test_unknown_path_is_unknown_operation(path: str) -> None:
    with pytest.raises(UnknownOperation) as raised:
        route("POST", path)
    assert raised.value.status == 404
    assert raised.value.code == "UnknownOperationException"


def test_unknown_operation_is_an_aws_client_error_not_html() -> None:
    # Being an ApiError is what makes the server answer with the JSON error shape.
    assert issubclass(UnknownOperation, ClientException)
    assert issubclass(MethodNotAllowed, ClientException)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_on_a_known_path_is_method_not_allowed(method: str) -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        route(method, "/v1/submitjob")
    assert raised.value.status == 405
    assert raised.value.code == "MethodNotAllowedException"


def test_wrong_method_is_detected_regardless_of_path_case() -> None:
    with pytest.raises(MethodNotAllowed):
        route("GET", "/v1/SubmitJob")


def test_routing_table_covers_every_operation_exactly_once() -> None:
    fixed, tags = router._table()
    routed = list(fixed.values()) + list(tags.values())
    assert sorted(routed) == sorted(OPERATIONS)

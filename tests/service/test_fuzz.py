"""Bad input, fuzzed: raw HTTP requests generated from botocore's input shapes for every operation always
get a 200 or an AWS-shaped JSON 4xx, never a 5xx, and the server stays healthy; request bodies over AWS's
payload limits are refused with a ClientException.

The budget is FUZZ_EXAMPLES examples per operation; BATCHEMU_FUZZ_EXAMPLES=2000 gives a deeper run."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings

from batchemu import Emulator, ServerThread
from batchemu.protocol import spec
from tests.helpers import COMPUTE_RESOURCES, CONTAINER
from tests.service.fuzz_strategies import AUTHORIZATION, RawRequest, requests_for

FUZZ_EXAMPLES = int(os.environ.get("BATCHEMU_FUZZ_EXAMPLES", "80"))
OPERATIONS = spec.operation_names()


@dataclass
class Tally:
    """What the fuzz run saw, for the summary printed at the end of the module (docs/reliability.md)."""

    cases: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)


TALLY = Tally()


class _ErrorLog(logging.Handler):
    """Keeps the server's ERROR records ("internal error in <op>", "scheduler tick failed") with tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(logging.Formatter().format(record))


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    total = sum(TALLY.cases.values())
    print(
        f"\n== fuzz summary: {total} cases over {len(TALLY.cases)} operations, {FUZZ_EXAMPLES} per operation =="
    )
    for operation in sorted(TALLY.cases):
        print(f"  {operation}: {TALLY.cases[operation]} cases, {TALLY.successes[operation]} answered 200")
    print(f"  by kind: {dict(sorted(TALLY.kinds.items()))}")
    print(f"  by status: {dict(sorted(TALLY.statuses.items()))}")
    print(f"  5xx responses: {len(TALLY.server_errors)}; server ERROR log records: {len(TALLY.crashes)}")
    for entry in TALLY.server_errors + TALLY.crashes:
        print(entry)


@pytest.fixture
def error_log() -> Iterator[_ErrorLog]:
    handler = _ErrorLog()
    logger = logging.getLogger("batchemu")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _seed(batch: Any, emulator: Emulator) -> dict[str, str]:
    """One resource of each kind; returns their ARNs (and the jobs' ids) by kind."""
    arns = {
        "ce": batch.create_compute_environment(
            computeEnvironmentName="fz-ce", type="MANAGED", computeResources=COMPUTE_RESOURCES
        )["computeEnvironmentArn"],
        "se": batch.create_service_environment(
            serviceEnvironmentName="fz-se",
            serviceEnvironmentType="SAGEMAKER_TRAINING",
            capacityLimits=[{"maxCapacity": 10, "capacityUnit": "NUM_INSTANCES"}],
        )["serviceEnvironmentArn"],
        "sp": batch.create_scheduling_policy(name="fz-sp")["arn"],
        "qsp": batch.create_scheduling_policy(
            name="fz-qsp", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
        )["arn"],
        "jd": batch.register_job_definition(
            jobDefinitionName="fz-jd",
            type="container",
            containerProperties=CONTAINER,
            parameters={"greeting": "hi"},
        )["jobDefinitionArn"],
        "cr": batch.create_consumable_resource(consumableResourceName="fz-cr", totalQuantity=4)[
            "consumableResourceArn"
        ],
    }
    emulator.run_until_idle()
    arns["q"] = batch.create_job_queue(
        jobQueueName="fz-q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fz-ce"}]
    )["jobQueueArn"]
    arns["sq"] = batch.create_job_queue(
        jobQueueName="fz-sq",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": arns["se"]}],
        schedulingPolicyArn=arns["qsp"],
    )["jobQueueArn"]
    emulator.run_until_idle()
    arns["qs"] = batch.create_quota_share(
        quotaShareName="fz-qs",
        jobQueue="fz-sq",
        capacityLimits=[{"maxCapacity": 4, "capacityUnit": "ml.m5.large"}],
        resourceSharingConfiguration={"strategy": "RESERVE"},
        preemptionConfiguration={"inSharePreemption": "DISABLED"},
    )["quotaShareArn"]
    job = batch.submit_job(jobName="fz-job", jobQueue="fz-q", jobDefinition="fz-jd")
    service_job = batch.submit_service_job(
        jobName="fz-sj",
        jobQueue="fz-sq",
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload="{}",
        quotaShareName="fz-qs",
    )
    arns.update(job=job["jobArn"], job_id=job["jobId"], sj=service_job["jobArn"], sj_id=service_job["jobId"])
    return arns


@pytest.fixture
def references(batch: Any, emulator: Emulator) -> dict[str, list[str]]:
    """Names and ARNs of real resources by the members that refer to them, so fuzzed requests also get
    past the lookups into the handlers."""
    arns = _seed(batch, emulator)
    jobs = [arns["job_id"], arns["job"], arns["sj_id"], arns["sj"]]
    by_kind = {
        "computeEnvironment": ["fz-ce", arns["ce"]],
        "jobQueue": ["fz-q", arns["q"], "fz-sq", arns["sq"]],
        "jobDefinition": ["fz-jd", "fz-jd:1", arns["jd"]],
        "jobId": jobs,
        "arn": [arns["sp"], arns["qsp"]],
        "consumableResource": ["fz-cr", arns["cr"]],
        "quotaShareArn": [arns["qs"]],
        "quotaShareName": ["fz-qs"],
        "serviceEnvironment": ["fz-se", arns["se"]],
        "resourceArn": [arn for key, arn in arns.items() if not key.endswith("_id")],
    }
    plural = {
        "computeEnvironments": "computeEnvironment",
        "jobQueues": "jobQueue",
        "jobDefinitions": "jobDefinition",
        "jobs": "jobId",
        "arrayJobId": "jobId",
        "multiNodeJobId": "jobId",
        "arns": "arn",
        "schedulingPolicyArn": "arn",
        "serviceEnvironments": "serviceEnvironment",
    }
    references = {**by_kind, **{name: by_kind[kind] for name, kind in plural.items()}}
    references["*"] = sorted({value for values in by_kind.values() for value in values} | {"greeting"})
    return references


def send(server: ServerThread, request: RawRequest) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": AUTHORIZATION}
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def health(server: ServerThread) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/_batchemu/health")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def check_aws_shaped(operation: str, request: RawRequest, reply: tuple[int, Any, bytes]) -> None:
    status, headers, body = reply
    where = request.describe()
    assert status == 200 or 400 <= status < 500, f"{status} for {where}\n{body[:500]!r}"
    assert headers["x-amzn-RequestId"], where
    assert headers["Content-Type"].startswith("application/json"), where
    document = json.loads(body)
    assert isinstance(document, dict), where
    if status == 200:
        # What botocore makes of it: a reply it cannot parse would fail every SDK caller.
        parsed = {"status_code": status, "headers": HeadersDict(dict(headers.items())), "body": body}
        create_parser("rest-json").parse(parsed, spec.operation(operation).output_shape)
    else:
        assert headers["x-amzn-ErrorType"] == document["__type"], where
        assert isinstance(document["message"], str) and document["message"], where


def fuzz_one(server: ServerThread, operation: str, request: RawRequest, error_log: _ErrorLog) -> None:
    TALLY.cases[operation] += 1
    TALLY.kinds[request.kind] += 1
    try:
        reply = send(server, request)
    except (http.client.HTTPException, OSError) as error:
        TALLY.crashes.append(f"-- dropped connection ({error!r}) in {operation}:\n{request.describe()}")
        raise
    TALLY.statuses[reply[0]] += 1
    TALLY.successes[operation] += reply[0] == 200
    if reply[0] >= 500:
        traceback = "\n".join(error_log.records[-1:])
        TALLY.server_errors.append(f"-- {reply[0]} in {operation}:\n{request.describe()}\n{traceback}")
    check_aws_shaped(operation, request, reply)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_fuzzed_requests_get_a_200_or_an_aws_shaped_4xx_and_the_server_stays_healthy(
    server: ServerThread,
    emulator: Emulator,
    references: dict[str, list[str]],
    error_log: _ErrorLog,
    operation: str,
) -> None:
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(request=requests_for(operation, references))
    def fuzz(request: RawRequest) -> None:
        fuzz_one(server, operation, request, error_log)

    fuzz()
    emulator.run_until_idle()  # whatever the fuzzed requests stored, the scheduler gets through it
    assert health(server) == 200
    TALLY.crashes.extend(f"-- ERROR logged during {operation}:\n{record}" for record in error_log.records)
    assert not error_log.records, error_log.records[0]


# -- AWS's payload limits --------------------------------------------------------------------------------
def post(server: ServerThread, path: str, document: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    status, headers, body = send(server, RawRequest("limit", "POST", path, json.dumps(document).encode()))
    return status, headers, json.loads(body)


@pytest.mark.parametrize("size", [31 * 1024, 100 * 1024, 1000 * 1024])
def test_submit_job_over_30_kib_is_refused_with_a_client_exception(
    server: ServerThread, references: dict[str, list[str]], size: int
) -> None:
    document = {
        "jobName": "big",
        "jobQueue": "fz-q",
        "jobDefinition": "fz-jd",
        "parameters": {"greeting": "x" * size},
    }
    status, headers, body = post(server, "/v1/submitjob", document)
    assert (status, headers["x-amzn-ErrorType"], body["__type"]) == (
        400,
        "ClientException",
        "ClientException",
    )
    assert "Job size must be less than 30 KiB" in body["message"]


def test_submit_job_just_under_30_kib_is_accepted(
    server: ServerThread, references: dict[str, list[str]]
) -> None:
    document = {
        "jobName": "big",
        "jobQueue": "fz-q",
        "jobDefinition": "fz-jd",
        "parameters": {"greeting": ""},
    }
    document["parameters"]["greeting"] = "x" * (29 * 1024 - len(json.dumps(document)))
    status, _, body = post(server, "/v1/submitjob", document)
    assert status == 200, body


@pytest.mark.parametrize("size", [25 * 1024, 100 * 1024, 1000 * 1024])
def test_register_job_definition_over_24_kib_is_refused_with_a_client_exception(
    server: ServerThread, emulator: Emulator, size: int
) -> None:
    container = {**CONTAINER, "environment": [{"name": "PAD", "value": "x" * size}]}
    document = {"jobDefinitionName": "big", "type": "container", "containerProperties": container}
    status, headers, body = post(server, "/v1/registerjobdefinition", document)
    assert (status, headers["x-amzn-ErrorType"], body["__type"]) == (
        400,
        "ClientException",
        "ClientException",
    )
    assert "Job definition size must be less than 24 KiB" in body["message"]


@pytest.mark.parametrize("path", ["/v1/submitjob", "/v1/registerjobdefinition", "/v1/describejobs"])
def test_a_body_over_one_mib_is_refused_with_a_client_exception(server: ServerThread, path: str) -> None:
    status, headers, body = post(server, path, {"padding": "x" * (1024 * 1024)})
    assert (status, headers["x-amzn-ErrorType"], body["__type"]) == (
        400,
        "ClientException",
        "ClientException",
    )
    assert "byte limit" in body["message"]


def test_a_refused_body_sent_slowly_still_gets_its_answer_not_a_reset(server: ServerThread) -> None:
    """The fuzz test's old BrokenPipeError: the server answered an oversized body before reading it and
    closed the connection as soon as the sender paused, so a client still sending got a reset. The
    refused body is now read (and dropped), whatever the pauses."""
    body = json.dumps({"padding": "x" * (1024 * 1024 + 4096)}).encode()
    head = (
        f"POST /v1/describejobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTHORIZATION}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head)
        for start in range(0, len(body), 256 * 1024):
            time.sleep(0.05)  # werkzeug's own drain gives up after 10 ms without data
            connection.sendall(body[start : start + 256 * 1024])
        response = http.client.HTTPResponse(connection)  # one answer; the connection may stay open
        response.begin()
        answer = response.read()
    assert response.status == 400, answer
    assert b"byte limit" in answer


# -- below batchemu: the HTTP server's own limits ----------------------------------------------------------
def test_a_request_line_over_64_kib_gets_an_aws_shaped_error(server: ServerThread) -> None:
    request = RawRequest("huge-uri", "GET", "/v1/tags/" + "a" * (64 * 1024), None)
    reply = send(server, request)
    check_aws_shaped("ListTagsForResource", request, reply)
    assert reply[0] == 414

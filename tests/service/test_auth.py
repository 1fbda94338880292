"""--auth sigv4: signed requests pass, unsigned and wrongly signed ones get AWS's 403s."""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings

KEY, SECRET = "AKIDBATCHEMUTEST", "s3cr3t"


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerThread]:
    emulator = Emulator(
        Settings(runner="simulated", auth="sigv4", auth_keys={KEY: SECRET}), clock=FakeClock()
    )
    with ServerThread(emulator) as server:
        yield server


def client(server: ServerThread, service: str = "batch", key: str = KEY, secret: str = SECRET):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        # SigV4 presigned URLs (SigV2 ones are refused under --auth sigv4)
        config=Config(retries={"max_attempts": 1}, signature_version="s3v4" if service == "s3" else None),
    )


def error_of(call) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_correctly_signed_request_is_served(guarded: ServerThread) -> None:
    assert client(guarded).describe_job_queues()["jobQueues"] == []


def test_a_wrong_secret_is_an_invalid_signature(guarded: ServerThread) -> None:
    assert error_of(lambda: client(guarded, secret="wrong").describe_job_queues()) == (
        403,
        "InvalidSignatureException",
    )


def test_an_unknown_access_key_is_unrecognized(guarded: ServerThread) -> None:
    assert error_of(lambda: client(guarded, key="AKIDUNKNOWN").describe_job_queues()) == (
        403,
        "UnrecognizedClientException",
    )


def test_an_account_id_key_needs_the_servers_own_secret(guarded: ServerThread) -> None:
    assert error_of(lambda: client(guarded, key="123456789012", secret="batchemu").describe_job_queues()) == (
        403,
        "InvalidSignatureException",
    )


def test_an_unsigned_request_is_refused(guarded: ServerThread) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=10)
    connection.request(
        "POST", "/v1/describejobqueues", body=b"{}", headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (
        403,
        "MissingAuthenticationTokenException",
    )
    assert body["message"] == "Missing Authentication Token"


def test_an_encoded_arn_in_the_path_verifies(guarded: ServerThread) -> None:
    batch = client(guarded)
    arn = batch.create_scheduling_policy(name="signed-policy")["arn"]
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}


def test_other_services_are_guarded_too_and_presigned_urls_work(guarded: ServerThread) -> None:
    s3 = client(guarded, "s3")
    s3.create_bucket(Bucket="batchemu-auth-test")
    s3.put_object(Bucket="batchemu-auth-test", Key="k", Body=b"signed body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "batchemu-auth-test", "Key": "k"})
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"signed body"
    assert error_of(lambda: client(guarded, "s3", secret="wrong").list_buckets())[0] == 403


def test_health_stays_open(guarded: ServerThread) -> None:
    with urllib.request.urlopen(f"{guarded.endpoint}/_batchemu/health") as response:
        assert json.load(response)["status"] == "running"


@pytest.fixture(scope="module")
def finished_job(guarded: ServerThread) -> str:
    """A job run to SUCCEEDED on the guarded server (once per module), its id."""
    batch = client(guarded)
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED", unmanagedvCpus=4)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={"image": "busybox", "command": ["echo", "hi"], "vcpus": 1, "memory": 64},
    )
    guarded.emulator.run_until_idle()
    job_id: str = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    guarded.emulator.run_until_idle()
    guarded.emulator.flush()
    return job_id


def test_batchemus_own_writes_pass_the_check(guarded: ServerThread, finished_job: str) -> None:
    batch = client(guarded)
    job_id = finished_job
    stream = batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
    # the log lines were written by batchemu itself, with its per-server credentials
    events = client(guarded, "logs").get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)[
        "events"
    ]
    assert [event["message"] for event in events] == ["simulated: echo hi"]


def test_config_shows_settings_without_secrets(guarded: ServerThread) -> None:
    with urllib.request.urlopen(f"{guarded.endpoint}/_batchemu/config") as response:
        config = json.load(response)
    assert (config["auth"], config["auth_keys"], config["runner"]) == ("sigv4", [KEY], "simulated")
    assert SECRET not in json.dumps(config)
    assert guarded.emulator.settings.internal_secret not in json.dumps(config)


def test_the_dashboard_reads_job_logs_with_the_servers_own_credentials(
    guarded: ServerThread, finished_job: str
) -> None:
    with urllib.request.urlopen(f"{guarded.endpoint}/_batchemu/ui/api/jobs/{finished_job}") as response:
        page = json.load(response)
    assert page["logError"] is None
    assert [line["message"] for line in page["logs"]] == ["simulated: echo hi"]

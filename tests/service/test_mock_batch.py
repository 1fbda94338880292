"""mock_batch: as a function decorator, class decorator and context manager, unmodified
`boto3.client("batch")` reaches a fresh in-process emulator; the environment is restored afterwards,
also on errors; beside moto's mock_aws, other services stay with moto."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from batchemu import mock_batch
from batchemu.testing import BatchemuHandle
from tests.helpers import container

VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BATCH",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with none of the variables mock_batch sets, and none of a real AWS config."""
    for name in (*VARIABLES, "AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    yield


def environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in VARIABLES}


def create_queue(batch) -> None:  # type: ignore[no-untyped-def]
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )


def queue_names() -> list[str]:
    return [queue["jobQueueName"] for queue in boto3.client("batch").describe_job_queues()["jobQueues"]]


@mock_batch
def test_decorated_function_reaches_the_emulator_with_an_unmodified_client() -> None:
    create_queue(boto3.client("batch"))
    assert queue_names() == ["q"]


@mock_batch(fake_clock=True)
def test_decorator_with_arguments_serves_a_fake_clock() -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL_BATCH"]
    assert BatchemuHandle(endpoint).clock_is_fake


def test_each_decorated_call_gets_a_fresh_emulator() -> None:
    @mock_batch
    def count_then_create() -> int:
        count = len(queue_names())
        create_queue(boto3.client("batch"))
        return count

    assert (count_then_create(), count_then_create()) == (0, 0)


@mock_batch
class TestDecoratedClass:
    def test_first_method_sees_an_empty_emulator(self) -> None:
        create_queue(boto3.client("batch"))
        assert queue_names() == ["q"]

    def test_second_method_sees_an_empty_emulator_too(self) -> None:
        assert queue_names() == []

    def helper_is_not_wrapped(self) -> str | None:
        return os.environ.get("AWS_ENDPOINT_URL_BATCH")


def test_class_decorator_leaves_methods_not_named_test_alone() -> None:
    assert TestDecoratedClass().helper_is_not_wrapped() is None


def test_context_manager_yields_a_handle_with_the_endpoint() -> None:
    with mock_batch() as handle:
        assert isinstance(handle, BatchemuHandle)
        assert boto3.client("batch").meta.endpoint_url == handle.endpoint
        assert handle.endpoint.startswith("http://127.0.0.1:")


def test_context_manager_sets_endpoints_dummy_credentials_and_region() -> None:
    with mock_batch() as handle:
        assert environment() == {
            "AWS_ENDPOINT_URL": handle.endpoint,
            "AWS_ENDPOINT_URL_BATCH": handle.endpoint,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": None,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def test_environment_is_restored_afterwards() -> None:
    before = environment()
    with mock_batch():
        pass
    assert environment() == before


def test_environment_is_restored_after_an_exception() -> None:
    before = environment()
    with pytest.raises(ZeroDivisionError), mock_batch():
        1 / 0  # noqa: B018
    assert environment() == before


def test_credentials_and_region_already_set_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_batch():
        assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_DEFAULT_REGION"]) == (
            "AKIAEXAMPLE",
            "eu-west-1",
        )
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"


def test_an_endpoint_set_before_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with mock_batch() as handle:
        assert os.environ["AWS_ENDPOINT_URL"] == handle.endpoint
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


def test_the_server_stops_afterwards() -> None:
    with mock_batch() as handle:
        handle.health()
    with pytest.raises(ConnectionError):
        handle.health()


def test_services_names_the_services_routed_to_the_emulator() -> None:
    with mock_batch(services=("batch", "logs")) as handle:
        assert os.environ.get("AWS_ENDPOINT_URL") is None
        assert os.environ["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] == handle.endpoint
        assert boto3.client("logs").meta.endpoint_url == handle.endpoint


def test_other_services_are_served_by_the_same_endpoint() -> None:
    with mock_batch() as handle:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket-one")
        assert s3.meta.endpoint_url == handle.endpoint
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["bucket-one"]


def test_other_services_start_empty(server) -> None:  # type: ignore[no-untyped-def]
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="left-over")
    with mock_batch():
        assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_handle_steps_jobs_on_a_fake_clock() -> None:
    with mock_batch(fake_clock=True) as handle:
        batch = boto3.client("batch")
        create_queue(batch)
        batch.register_job_definition(
            jobDefinitionName="work",
            type="container",
            containerProperties=container(
                ["true"], environment=[{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "3600"}]
            ),
        )
        job_id = batch.submit_job(jobName="job", jobQueue="q", jobDefinition="work")["jobId"]
        handle.wait_for_status(job_id, "RUNNING")
        handle.advance(3600)
        assert handle.status(job_id) == "SUCCEEDED"


def test_beside_mock_aws_s3_goes_to_moto_and_batch_to_the_emulator() -> None:
    with mock_aws(), mock_batch() as handle:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bucket-one")
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["bucket-one"]
        assert s3.meta.endpoint_url == "https://s3.amazonaws.com"
        assert os.environ.get("AWS_ENDPOINT_URL") is None
        batch = boto3.client("batch")
        assert batch.meta.endpoint_url == handle.endpoint
        create_queue(batch)
        assert queue_names() == ["q"]


def test_beside_mock_aws_state_made_before_mock_batch_is_kept() -> None:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="made-first")
        with mock_batch():
            assert [bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]] == [
                "made-first"
            ]


@mock_aws
@mock_batch
def test_mock_aws_stacked_above_mock_batch_leaves_other_services_to_moto() -> None:
    assert boto3.client("s3").meta.endpoint_url == "https://s3.amazonaws.com"
    assert boto3.client("batch").meta.endpoint_url == os.environ["AWS_ENDPOINT_URL_BATCH"]
    create_queue(boto3.client("batch"))
    assert queue_names() == ["q"]

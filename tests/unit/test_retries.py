"""Target retry policies of EventBridge rules and Scheduler schedules: what is retried, when, and when a
failure goes to the dead-letter queue instead."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError

from batchemu.integrations.retries import RetryPolicy, is_retried
from batchemu.integrations.scheduler_targets import ScheduleTargets


def client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def test_server_errors_and_throttling_are_retried_client_errors_are_not() -> None:
    assert is_retried(client_error(503, "ServiceUnavailable"))
    assert is_retried(client_error(400, "ThrottlingException"))
    assert not is_retried(client_error(400, "ClientException"))
    assert not is_retried(client_error(404, "ResourceNotFoundException"))
    assert not is_retried(ValueError("bad input"))


def test_the_delay_doubles_and_the_policy_gives_up_on_attempts_or_age() -> None:
    policy = RetryPolicy.of({"RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}})
    assert [policy.next_delay(n, 0) for n in range(4)] == [1, 2, 4, None]
    assert policy.next_delay(0, 59.5) is None
    assert RetryPolicy.of({}) == RetryPolicy(185, 86_400)


class FlakyBatch:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.meta = SimpleNamespace(service_model=self)

    def operation_model(self, name: str) -> Any:
        return SimpleNamespace(input_shape=None)

    def submit_job(self, **request: Any) -> dict[str, str]:
        self.calls += 1
        if self.calls <= self.failures:
            raise client_error(503, "ServiceUnavailable")
        return {"jobId": "j-1"}


class Clients:
    def __init__(self, batch: FlakyBatch) -> None:
        self.batch = batch
        self.dead: list[Any] = []

    def client(self, service: str, account: str, region: str) -> Any:
        return self.batch


def test_a_schedule_target_that_fails_with_a_server_error_is_retried_on_the_clock_until_it_passes() -> None:
    batch = FlakyBatch(failures=2)
    waits: list[float] = []
    clock = [1000.0]

    def later(seconds: float, task: Any) -> None:
        waits.append(seconds)
        clock[0] += seconds
        task()

    targets = ScheduleTargets(Clients(batch), later=later, now=lambda: clock[0])  # type: ignore[arg-type]
    schedule = SimpleNamespace(
        name="s", arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/s", group_name="default",
        target={"Arn": "arn:aws:scheduler:::aws-sdk:batch:submitJob", "Input": "{}"},
    )
    targets.invoke("123456789012", "us-east-1", schedule, 1000.0)
    assert batch.calls == 3 and waits == [1.0, 2.0]

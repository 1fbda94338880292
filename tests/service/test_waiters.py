"""batchemu's botocore waiters (JobExists, JobRunning, JobComplete) against the in-process server: each job
is settled with run_until_idle first, so the waiters poll with Delay 0 and never sleep."""

from __future__ import annotations

import pytest
from botocore.exceptions import WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from batchemu import Emulator
from batchemu.waiters import WAITER_NAMES, get_waiter, waiter_config
from tests.helpers import container, provision

NOW = {"Delay": 0, "MaxAttempts": 2}


@pytest.fixture
def queue(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    provision(batch, definition="work", properties=container(["true"]))
    emulator.run_until_idle()
    return "q"


def settled_job(batch, emulator: Emulator, seconds: int = 0, exit_code: int = 0) -> str:  # type: ignore[no-untyped-def]
    environment = [
        {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
        {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)},
    ]
    job_id: str = batch.submit_job(
        jobName="job", jobQueue="q", jobDefinition="work", containerOverrides={"environment": environment}
    )["jobId"]
    emulator.run_until_idle()
    return job_id


def test_the_definitions_are_botocore_waiters_with_one_second_delay() -> None:
    model = WaiterModel(waiter_config())
    assert sorted(model.waiter_names) == sorted(WAITER_NAMES)
    for name in WAITER_NAMES:
        config = model.get_waiter(name)
        assert (config.operation, config.delay, config.max_attempts) == ("DescribeJobs", 1, 120)


def test_create_waiter_with_client_accepts_the_model(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator)
    waiter = create_waiter_with_client("JobComplete", WaiterModel(waiter_config()), batch)
    waiter.wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_exists_succeeds_for_a_submitted_job(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    get_waiter(batch, "JobExists").wait(jobs=[settled_job(batch, emulator)], WaiterConfig=NOW)


def test_job_exists_gives_up_on_an_unknown_job(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        get_waiter(batch, "JobExists").wait(jobs=["no-such-job"], WaiterConfig=NOW)


def test_job_running_succeeds_while_the_job_runs(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator, seconds=60)
    get_waiter(batch, "JobRunning").wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_running_fails_once_the_job_succeeded(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator)
    with pytest.raises(WaiterError, match="terminal failure state"):
        get_waiter(batch, "JobRunning").wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_running_fails_once_the_job_failed(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator, exit_code=1)
    with pytest.raises(WaiterError, match="terminal failure state"):
        get_waiter(batch, "JobRunning").wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_complete_succeeds_when_the_job_succeeded(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    get_waiter(batch, "JobComplete").wait(jobs=[settled_job(batch, emulator)], WaiterConfig=NOW)


def test_job_complete_fails_when_the_job_failed(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator, exit_code=1)
    with pytest.raises(WaiterError, match="terminal failure state"):
        get_waiter(batch, "JobComplete").wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_complete_keeps_waiting_while_the_job_runs(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator, seconds=60)
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        get_waiter(batch, "JobComplete").wait(jobs=[job_id], WaiterConfig=NOW)


def test_job_complete_succeeds_after_the_fake_clock_passes_the_job_duration(
    batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    job_id = settled_job(batch, emulator, seconds=60)
    emulator.advance(60)
    emulator.run_until_idle()
    get_waiter(batch, "JobComplete").wait(jobs=[job_id], WaiterConfig=NOW)


def test_get_waiter_accepts_boto3_snake_case_names(batch) -> None:  # type: ignore[no-untyped-def]
    assert get_waiter(batch, "job_complete").name == "JobComplete"


def test_get_waiter_rejects_an_unknown_name(batch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="JobExists, JobRunning, JobComplete"):
        get_waiter(batch, "JobStarted")

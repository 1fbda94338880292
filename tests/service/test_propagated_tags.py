"""propagateTags through boto3 (simulated runner, fake clock): the task carries the job definition's tags and
the job's (the job's win on a clash), none without propagation; more than 50 combined tags fail the job
after submission, as AWS documents, and never refuse the SubmitJob."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu import Emulator
from tests.helpers import CONTAINER, describe, provision


def tags(prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}{index}": "v" for index in range(count)}


@pytest.fixture
def queue(batch: Any, emulator: Emulator) -> str:
    arn = provision(batch)
    batch.register_job_definition(
        jobDefinitionName="tagged",
        type="container",
        containerProperties=CONTAINER,
        tags=tags("def", 30),
        propagateTags=True,
    )
    emulator.run_until_idle()
    return arn


def finish(batch: Any, emulator: Emulator, job_id: str) -> dict[str, Any]:
    for _ in range(20):
        emulator.run_until_idle()
        emulator.advance(1)
    return describe(batch, job_id)


@pytest.mark.parametrize(
    ("job_tags", "propagate", "status"),
    [
        (tags("job", 20), None, "SUCCEEDED"),  # 30 + 20 = 50: the limit itself
        (tags("job", 21), None, "FAILED"),  # 51
        ({**tags("def", 25), **tags("job", 20)}, None, "SUCCEEDED"),  # 25 clash with the definition's: 50
        (tags("job", 21), False, "SUCCEEDED"),  # SubmitJob's propagateTags wins: nothing propagated
    ],
)
def test_more_than_50_propagated_tags_fail_the_job_after_submission(
    batch: Any, emulator: Emulator, queue: str, job_tags: dict[str, str], propagate: bool | None, status: str
) -> None:
    extra = {} if propagate is None else {"propagateTags": propagate}
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="tagged", tags=job_tags, **extra)[
        "jobId"
    ]
    job = finish(batch, emulator, job_id)
    assert job["status"] == status
    if status == "FAILED":
        assert job["statusReason"] == "Task failed to start"  # as for any task that cannot start
        assert job["container"]["reason"] == (
            "Tags to propagate to the task number 51, more than the 50 a task can have"
        )
        assert job["tags"] == job_tags  # the job keeps what it was given

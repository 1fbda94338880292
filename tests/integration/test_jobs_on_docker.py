"""Jobs run as real containers by the docker runner, seen only through boto3 against the served emulator:
exit codes and reasons, logs in CloudWatch Logs, the environment inside, parameters and overrides,
terminate, timeout, a missing image, an OOM kill, retries, array children, and S3 from inside a job."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.clock import FakeClock
from batchemu.config import Settings
from tests.helpers import (
    ACCOUNT,
    ENDED,
    container,
    describe,
    log_messages,
    make_client,
    provision,
    wait_for_status,
)

pytestmark = pytest.mark.docker

BUSYBOX = "batchemu-test/busybox:latest"
PYTHON = "batchemu-test/python:latest"
MISSING = "batchemu-test/does-not-exist:latest"
BUCKET = f"batchemu-jobs-{uuid.uuid4().hex[:8]}"
S3_SCRIPT = f"""
import os, boto3
s3 = boto3.client("s3")  # no endpoint_url: AWS_ENDPOINT_URL from the job's environment
s3.put_object(Bucket="{BUCKET}", Key="from-job", Body=("written by " + os.environ["AWS_BATCH_JOB_ID"]).encode())
print("stored")
"""
ENV_SCRIPT = (
    "for name in AWS_BATCH_JOB_ID AWS_BATCH_JOB_ATTEMPT AWS_BATCH_JQ_NAME AWS_BATCH_CE_NAME AWS_ENDPOINT_URL; "
    'do eval "echo $name=\\$$name"; done'
)


class Account:
    """boto3 clients on one served emulator, and shortcuts for defining, submitting and watching jobs."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.batch = self.client("batch")
        self.logs = self.client("logs")

    def client(self, service: str) -> Any:
        return make_client(self.server.endpoint, access_key=ACCOUNT, service=service)

    def create_queue(self, name: str = "jobs", max_vcpus: int = 8) -> str:
        provision(self.batch, ce=f"{name}-ce", queue=name, max_vcpus=max_vcpus)
        self.wait_until(lambda: self._queue_status(name) == "VALID", f"queue {name} VALID")
        return name

    def define(
        self, name: str, command: list[str], image: str = BUSYBOX, memory: int = 64, **fields: Any
    ) -> str:
        properties = container(command, memory=memory, image=image, **fields.pop("containerProperties", {}))
        self.batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=properties, **fields
        )
        return name

    def submit(self, queue: str, definition: str, **fields: Any) -> str:
        return self.batch.submit_job(jobName=definition, jobQueue=queue, jobDefinition=definition, **fields)[
            "jobId"
        ]

    def describe(self, job_id: str) -> dict[str, Any]:
        return describe(self.batch, job_id)

    def wait_for(
        self, job_id: str, statuses: tuple[str, ...] = ENDED, deadline: float = 60
    ) -> dict[str, Any]:
        """Polls DescribeJobs until the job reaches one of `statuses`; fails after `deadline` seconds."""
        return wait_for_status(self.batch, job_id, statuses, deadline, interval=0.1)

    def log_messages(self, job: dict[str, Any]) -> list[str]:
        """The job's lines in CloudWatch Logs, once its last lines are shipped."""
        return log_messages(self.server.emulator, self.logs, job)

    @staticmethod
    def wait_until(condition: Any, what: str, deadline: float = 30) -> None:
        give_up = time.monotonic() + deadline
        while not condition():
            assert time.monotonic() < give_up, f"no {what} after {deadline}s"
            time.sleep(0.05)

    def _queue_status(self, name: str) -> str:
        return self.batch.describe_job_queues(jobQueues=[name])["jobQueues"][0]["status"]


@pytest.fixture(scope="module")
def account(docker_engine: None) -> Iterator[Account]:
    with ServerThread(Emulator(Settings(runner="docker"))) as server:
        yield Account(server)


@pytest.fixture(scope="module")
def queue(account: Account) -> str:
    return account.create_queue()


@pytest.fixture(scope="module")
def jobs(account: Account, queue: str) -> dict[str, str]:
    """Every independent job, submitted at once so their containers run side by side; each test then waits
    for its own. The long sleeper goes first so it holds a slot from the start."""
    account.client("s3").create_bucket(Bucket=BUCKET)
    define, submit = account.define, account.submit
    define("sleeper", ["sleep", "300"])
    define("hello", ["sh", "-c", "echo hello; echo world >&2"])
    define("exit-three", ["sh", "-c", "exit 3"])
    define("env", ["sh", "-c", ENV_SCRIPT])
    define("params", ["echo", "Ref::greeting", "Ref::name"], parameters={"greeting": "hi", "name": "def"})
    define(
        "overrides",
        ["echo", "from the definition"],
        containerProperties={"environment": [{"name": "COLOUR", "value": "red"}]},
    )
    define("missing-image", ["true"], image=MISSING)
    define("memory-hog", ["sh", "-c", "head -c 300m /dev/zero | tail"], memory=32)
    define("third-time", ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" = 3 ] || exit 1; echo third'])
    define("indexed", ["sh", "-c", "echo index=$AWS_BATCH_JOB_ARRAY_INDEX"])
    define("s3-writer", ["python3", "-c", S3_SCRIPT], image=PYTHON, memory=256)
    overrides = {
        "command": ["sh", "-c", "echo $COLOUR $SHAPE"],
        "environment": [{"name": "COLOUR", "value": "blue"}, {"name": "SHAPE", "value": "square"}],
    }
    return {
        "sleeper": submit(queue, "sleeper"),
        "hello": submit(queue, "hello"),
        "exit-three": submit(queue, "exit-three"),
        "env": submit(queue, "env"),
        "params": submit(queue, "params", parameters={"name": "batch"}),
        "overrides": submit(queue, "overrides", containerOverrides=overrides),
        "missing-image": submit(queue, "missing-image"),
        "memory-hog": submit(queue, "memory-hog"),
        "third-time": submit(queue, "third-time", retryStrategy={"attempts": 3}),
        "indexed": submit(queue, "indexed", arrayProperties={"size": 3}),
        "s3-writer": submit(queue, "s3-writer"),
    }


def test_a_successful_job_has_its_stdout_and_stderr_in_cloudwatch_logs(
    account: Account, jobs: dict[str, str]
) -> None:
    job = account.wait_for(jobs["hello"])
    assert (job["status"], job["container"]["exitCode"]) == ("SUCCEEDED", 0)
    assert job["container"]["logStreamName"].startswith("hello/default/")
    assert sorted(account.log_messages(job)) == ["hello", "world"]


def test_exit_code_three_fails_the_job_with_essential_container_exited(
    account: Account, jobs: dict[str, str]
) -> None:
    job = account.wait_for(jobs["exit-three"])
    assert (job["status"], job["container"]["exitCode"]) == ("FAILED", 3)
    assert job["statusReason"] == "Essential container in task exited"


def test_the_job_sees_its_batch_variables_and_the_emulator_endpoint(
    account: Account, jobs: dict[str, str], queue: str
) -> None:
    job = account.wait_for(jobs["env"])
    assert job["status"] == "SUCCEEDED"
    assert account.log_messages(job) == [
        f"AWS_BATCH_JOB_ID={jobs['env']}",
        "AWS_BATCH_JOB_ATTEMPT=1",
        f"AWS_BATCH_JQ_NAME={queue}",
        f"AWS_BATCH_CE_NAME={queue}-ce",
        f"AWS_ENDPOINT_URL={account.server.endpoint}",
    ]


def test_parameters_replace_ref_placeholders_in_the_command(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["params"])
    assert job["status"] == "SUCCEEDED"
    assert account.log_messages(job) == ["hi batch"]


def test_container_overrides_replace_the_command_and_environment(
    account: Account, jobs: dict[str, str]
) -> None:
    job = account.wait_for(jobs["overrides"])
    assert job["status"] == "SUCCEEDED"
    assert account.log_messages(job) == ["blue square"]


def test_a_missing_image_fails_promptly_with_cannot_pull(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["missing-image"], deadline=40)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Task failed to start")
    assert job["container"]["reason"].startswith("CannotPullContainerError")
    assert job["stoppedAt"] - job["createdAt"] < 30_000


def test_memory_over_the_limit_is_an_out_of_memory_kill(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["memory-hog"])
    assert job["status"] == "FAILED"
    assert job["container"].get("reason") == "OutOfMemoryError: Container killed due to memory usage", job
    assert job["container"]["exitCode"] == 137


def test_retries_run_until_the_third_attempt_succeeds(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["third-time"])
    assert job["status"] == "SUCCEEDED"
    assert [attempt["container"]["exitCode"] for attempt in job["attempts"]] == [1, 1, 0]
    assert account.log_messages(job) == ["third"]


def test_array_children_each_log_their_own_index(account: Account, jobs: dict[str, str]) -> None:
    parent = account.wait_for(jobs["indexed"])
    assert parent["status"] == "SUCCEEDED"
    for index in range(3):
        child = account.wait_for(f"{jobs['indexed']}:{index}")
        assert account.log_messages(child) == [f"index={index}"]


def test_plain_boto3_inside_the_job_reaches_the_emulators_s3(account: Account, jobs: dict[str, str]) -> None:
    job = account.wait_for(jobs["s3-writer"])
    assert job["status"] == "SUCCEEDED", account.log_messages(job)
    stored = account.client("s3").get_object(Bucket=BUCKET, Key="from-job")["Body"].read()
    assert stored == f"written by {jobs['s3-writer']}".encode()


def test_terminating_a_running_sleep_fails_it_within_seconds_with_exit_137(
    account: Account, jobs: dict[str, str]
) -> None:
    # Last of the shared jobs: the others have ended, so the kill measures the runner, not a busy engine.
    account.wait_for(jobs["sleeper"], ("RUNNING",))
    began = time.monotonic()
    account.batch.terminate_job(jobId=jobs["sleeper"], reason="Stopped by the test")
    job = account.wait_for(jobs["sleeper"], deadline=10)
    assert time.monotonic() - began < 5
    assert (job["status"], job["statusReason"]) == ("FAILED", "Stopped by the test")
    assert job["container"]["exitCode"] == 137


def test_a_timed_out_attempt_is_killed_once_the_fake_clock_passes_the_timeout(docker_engine: None) -> None:
    emulator = Emulator(Settings(runner="docker"), clock=FakeClock())
    with ServerThread(emulator) as server:
        account = Account(server)
        queue = account.create_queue("timed")
        account.define("slow", ["sleep", "300"], timeout={"attemptDurationSeconds": 60})
        job_id = account.submit(queue, "slow")
        account.wait_for(job_id, ("RUNNING",))
        emulator.advance(61)
        job = account.wait_for(job_id, deadline=10)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Job attempt duration exceeded timeout")
    assert job["container"]["exitCode"] == 137

"""redun's AWS Batch executor, unmodified, against `batchemu serve --runner docker`: `redun run` submits
five `square` calls as one array job (children `<id>:<i>` polled by DescribeJobs, inputs, code and outputs
in S3 scratch) and `describe` as a single job. The first run is killed while its array waits on a disabled
compute environment; a second `redun run` reunites with the array's children (ListJobs by status, then
ListJobs(arrayJobId) per status, each child's arrayProperties.index) instead of resubmitting, and the
workflow ends with its result. `redun aws logs` reads the children's lines from CloudWatch Logs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.clients.harness import CLIENTS_IMAGE, PROJECTS, Served, client_python, run_client, wait_valid
from tests.helpers import compute_resources

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(600)]

QUEUE = "redun-q"
COMPUTE_ENVIRONMENT = "redun-ce"
REDUN_INI = """\
[backend]
db_uri = sqlite:///{db}

[executors.batch]
type = aws_batch
image = {image}
queue = {queue}
s3_scratch = s3://{bucket}/redun
aws_region = us-east-1
role = arn:aws:iam::123456789012:role/redun-job
memory = 1
vcpus = 1
job_monitor_interval = 1
job_stale_time = 1
"""


@pytest.fixture(scope="module")
def redun_python() -> Path:
    return client_python("redun")


def held_queue(served: Served) -> None:
    """A queue whose compute environment starts DISABLED: submitted jobs wait RUNNABLE until it is enabled."""
    batch = served.client("batch")
    batch.create_compute_environment(
        computeEnvironmentName=COMPUTE_ENVIRONMENT,
        type="MANAGED",
        state="DISABLED",
        computeResources=compute_resources(8),
    )
    wait_valid(
        lambda: batch.describe_compute_environments(computeEnvironments=[COMPUTE_ENVIRONMENT]),
        "computeEnvironments",
        COMPUTE_ENVIRONMENT,
    )
    batch.create_job_queue(
        jobQueueName=QUEUE,
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": COMPUTE_ENVIRONMENT}],
    )
    wait_valid(lambda: batch.describe_job_queues(jobQueues=[QUEUE]), "jobQueues", QUEUE)


def start_redun(redun: Path, served: Served, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(redun), "run", "workflow.py", "main"],
        cwd=cwd,
        env=served.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def read_until(process: subprocess.Popen[str], pattern: str, seen: list[str]) -> re.Match[str]:
    """Reads the process's output lines into `seen` until one matches `pattern`."""
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"redun ended (exit {process.wait()}) before printing {pattern!r}:\n{''.join(seen)}")


def test_redun_reunites_with_an_array_job_and_runs_the_workflow(
    redun_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    batch = served.client("batch")
    held_queue(served)
    shutil.copy(PROJECTS / "redun" / "workflow.py", tmp_path)
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(
        REDUN_INI.format(db=tmp_path / "redun.db", image=CLIENTS_IMAGE, queue=QUEUE, bucket=served.bucket)
    )
    redun = redun_python.parent / "redun"

    first_output: list[str] = []
    first = start_redun(redun, served, tmp_path)
    try:
        array_id = read_until(first, r"array_job_id\s+= (\S+)", first_output).group(1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    [array] = batch.describe_jobs(jobs=[array_id])["jobs"]
    assert array["arrayProperties"]["size"] == 5 and array["jobName"].endswith("-array"), array

    started = time.monotonic()
    output: list[str] = []
    second = start_redun(redun, served, tmp_path)
    try:
        reunited = {
            read_until(second, rf"with AWS Batch job ({array_id}:\d)", output).group(1) for _ in range(5)
        }
        batch.update_compute_environment(computeEnvironment=COMPUTE_ENVIRONMENT, state="ENABLED")
        assert second.stdout is not None
        output += second.stdout.readlines()
        assert second.wait(timeout=300) == 0, "".join(output)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    seconds = time.monotonic() - started
    text = "".join(output)
    assert reunited == {f"{array_id}:{i}" for i in range(5)}, text
    assert "'squares 1 4 9 16 25; total 55'" in text, text
    assert text.count("as AWS Batch job") == 1, "only `describe` is submitted anew:\n" + text

    [array] = batch.describe_jobs(jobs=[array_id])["jobs"]
    assert array["status"] == "SUCCEEDED" and array["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 5
    children = [f"{array_id}:{i}" for i in range(5)]
    assert [job["status"] for job in batch.describe_jobs(jobs=children)["jobs"]] == ["SUCCEEDED"] * 5
    # redun's own log reader: DescribeJobs for each child's logStreamName, then CloudWatch Logs
    logs = run_client(
        served,
        [str(redun), "aws", "logs", *(f"--batch-job={child}" for child in children)],
        served.env(),
        tmp_path,
    )
    for n in range(1, 6):
        assert re.search(rf"^\S+ \S+  squaring {n} on AWS Batch$", logs.stdout, re.MULTILINE), logs.stdout

    report("redun", reunite_to_result_seconds=round(seconds, 2), array_size=5)

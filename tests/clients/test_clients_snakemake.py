"""snakemake 9 with snakemake-executor-plugin-aws-batch, unmodified, against `batchemu serve --runner
docker`: a workflow of four Batch jobs (three squares and their total, files in S3 through the S3 storage
plugin) runs to its end. The plugin registers each job definition with an empty `tags` map and
`privileged: true`, which batchemu accepts as AWS does (the container runs unprivileged without
--allow-privileged), and snakemake runs inside each job (`python -m snakemake`, image python-clients)."""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.clients.harness import CLIENTS_IMAGE, PROJECTS, Served, client_python, run_client

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def snakemake_python() -> Path:
    return client_python("snakemake")


def job_seconds(output: str) -> list[float]:
    """Seconds (to snakemake's one-second resolution) from each remote job's `rule ...:` block, printed as
    it submits, to its `Finished jobid: N`, printed once it saw SUCCEEDED."""
    stamp: datetime | None = None
    in_rule = False
    started: dict[str, datetime] = {}
    seconds: list[float] = []
    for line in output.splitlines():
        if match := re.fullmatch(r"\[(\w{3} \w{3} +\d+ [\d:]{8} \d{4})\]", line.strip()):
            stamp = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif re.fullmatch(r"rule \w+:", line.strip()):
            in_rule = True
        elif in_rule and (match := re.fullmatch(r"jobid: (\d+)", line.strip())) and stamp is not None:
            started[match.group(1)] = stamp
            in_rule = False
        elif (match := re.match(r"Finished jobid: (\d+)", line.strip())) and match.group(1) in started:
            assert stamp is not None
            seconds.append((stamp - started[match.group(1)]).total_seconds())
    return sorted(seconds)


def test_snakemake_aws_batch_executor_runs_a_workflow(
    snakemake_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    shutil.copy(PROJECTS / "snakemake" / "Snakefile", tmp_path)
    command = [
        str(snakemake_python.parent / "snakemake"),
        "--executor", "aws-batch",
        "--aws-batch-region", "us-east-1",
        "--aws-batch-job-queue", served.queue,
        "--aws-batch-job-role", "arn:aws:iam::123456789012:role/snakemake-job",
        "--container-image", CLIENTS_IMAGE,
        "--default-storage-provider", "s3",
        "--default-storage-prefix", f"s3://{served.bucket}/snakemake",
        "--storage-s3-endpoint-url", served.endpoint,
        "--jobs", "3",
    ]  # fmt: skip
    started = time.monotonic()
    result = run_client(served, command, served.env(), tmp_path, timeout=1100)
    run_seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert "5 of 5 steps (100%) done" in output, output[-3000:]
    assert served.s3_text("snakemake/total.txt").strip() == "14"
    assert [served.s3_text(f"snakemake/squares/{n}.txt").strip() for n in (1, 2, 3)] == ["1", "4", "9"]

    jobs = [job for job in served.jobs("SUCCEEDED") if job["jobName"].startswith("snakejob-")]
    assert sorted(re.sub(r"-[0-9a-f-]{36}$", "", job["jobName"]) for job in jobs) == [
        "snakejob-square", "snakejob-square", "snakejob-square", "snakejob-total",
    ]  # fmt: skip
    client_seconds = job_seconds(output)
    assert len(client_seconds) == 4, output[-3000:]
    logs = served.client("logs")
    square = next(job for job in jobs if job["jobName"].startswith("snakejob-square"))
    events = logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=square["container"]["logStreamName"], startFromHead=True
    )["events"]
    assert any(re.fullmatch(r"squared [123]", event["message"]) for event in events)
    report(
        "snakemake",
        submit_to_succeeded_seconds=client_seconds,
        server_submit_to_succeeded_seconds=sorted(
            round((job["stoppedAt"] - job["createdAt"]) / 1000, 2) for job in jobs
        ),
        run_seconds=round(run_seconds, 1),
    )

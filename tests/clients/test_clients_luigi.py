"""Luigi's luigi.contrib.batch.BatchTask, unmodified, against `batchemu serve --runner docker`: three jobs
square numbers into S3 and SUCCEED, and a failing job's CloudWatch log lines reach Luigi's exception
(Luigi reads them right after it sees FAILED)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.clients.harness import PROJECTS, PYTHON_IMAGE, Served, client_python, run_client
from tests.helpers import container

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def luigi_python() -> Path:
    return client_python("luigi")


def test_luigi_batch_tasks_succeed_and_a_failure_shows_its_log_lines(
    luigi_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    batch = served.client("batch")
    writer = (
        "import boto3, sys; n = int(sys.argv[1]); "
        f"boto3.client('s3').put_object(Bucket='{served.bucket}', Key='luigi/%d.txt' % n, Body=str(n * n)); "
        "print('squared', n, 'to', n * n)"
    )
    batch.register_job_definition(
        jobDefinitionName="luigi-square",
        type="container",
        parameters={"n": "0"},
        containerProperties=container(["python3", "-c", writer, "Ref::n"], image=PYTHON_IMAGE),
    )
    batch.register_job_definition(
        jobDefinitionName="luigi-failing",
        type="container",
        containerProperties=container(
            ["sh", "-c", "echo about to fail; echo last words >&2; exit 3"], image=PYTHON_IMAGE
        ),
    )
    shutil.copy(PROJECTS / "luigi" / "batch_tasks.py", tmp_path)
    env = served.env(PYTHONPATH=str(tmp_path))
    luigi = [str(luigi_python), "-m", "luigi", "--module", "batch_tasks", "--local-scheduler"]

    started = time.monotonic()
    result = run_client(served, [*luigi, "Squares", "--workers", "3"], env, tmp_path)
    squares_seconds = time.monotonic() - started
    assert "This progress looks :)" in result.stdout + result.stderr
    assert [served.s3_text(f"luigi/{n}.txt") for n in (1, 2, 3)] == ["1", "4", "9"]
    succeeded = [job for job in served.jobs("SUCCEEDED") if job["jobDefinition"].endswith("/luigi-square:1")]
    assert sorted(job["parameters"]["n"] for job in succeeded) == ["1", "2", "3"]
    timings = [json.loads(line) for line in (tmp_path / "timings.jsonl").read_text().splitlines()]

    run_client(served, [*luigi, "Failing", "--poll-time", "1"], env, tmp_path)
    seen = (tmp_path / "failing.seen").read_text()
    assert "about to fail" in seen and "last words" in seen, seen

    report(
        "luigi",
        submit_to_succeeded_seconds=sorted(round(t["seconds"], 2) for t in timings),
        poll_time_seconds=1,
        three_tasks_run_seconds=round(squares_seconds, 2),
    )

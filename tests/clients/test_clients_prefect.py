"""prefect-aws, unmodified, against `batchemu serve --runner docker`: a Prefect 3 flow run locally (Prefect's
ephemeral API in a temporary server, no Prefect server or network) submits Batch jobs with `batch_submit`
(parameters and containerOverrides passed through to SubmitJob) and waits with `client_waiter` and a custom
DescribeJobs waiter: the squares SUCCEED and write to S3, and the wait for a failing job ends Failed."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.clients.harness import PROJECTS, PYTHON_IMAGE, Served, client_python, run_client
from tests.helpers import container

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def prefect_python() -> Path:
    return client_python("prefect")


def test_prefect_flow_submits_batch_jobs_and_waits_for_them(
    prefect_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    batch = served.client("batch")
    writer = (
        "import boto3, os, sys; n = int(sys.argv[1]); "
        f"boto3.client('s3').put_object(Bucket='{served.bucket}', Key='prefect/%d.txt' % n, "
        "Body='%d by %s' % (n * n, os.environ['SUBMITTED_BY'])); print('squared', n)"
    )
    batch.register_job_definition(
        jobDefinitionName="prefect-square",
        type="container",
        parameters={"n": "0"},
        containerProperties=container(["python3", "-c", writer, "Ref::n"], image=PYTHON_IMAGE),
    )
    batch.register_job_definition(
        jobDefinitionName="prefect-failing",
        type="container",
        containerProperties=container(["sh", "-c", "echo giving up; exit 4"], image=PYTHON_IMAGE),
    )
    shutil.copy(PROJECTS / "prefect" / "batch_flow.py", tmp_path)
    env = served.env(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # the temporary server migrates a new SQLite database first: 20 s (the default) is short on a busy machine
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    env = {k: v for k, v in env.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}

    started = time.monotonic()
    command = [
        str(prefect_python),
        "batch_flow.py",
        served.queue,
        "prefect-square",
        "prefect-failing",
        "2",
        "3",
    ]
    result = run_client(served, command, env, tmp_path)
    seconds = time.monotonic() - started
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    log = result.stdout + result.stderr
    assert "Finished in state Completed()" in log, log

    squares = batch.describe_jobs(jobs=outcome["squares"])["jobs"]
    assert [job["status"] for job in squares] == ["SUCCEEDED", "SUCCEEDED"], squares
    assert sorted(job["parameters"]["n"] for job in squares) == ["2", "3"]
    assert [served.s3_text(f"prefect/{n}.txt") for n in (2, 3)] == ["4 by prefect", "9 by prefect"]
    [failing] = batch.describe_jobs(jobs=[outcome["failing"]])["jobs"]
    assert failing["status"] == "FAILED" and failing["container"]["exitCode"] == 4, failing
    assert outcome["failing_wait"] == "FAILED", log
    server_start = re.search(r"Starting temporary server on (\S+)", log)
    assert server_start, "the flow ran on Prefect's ephemeral API:\n" + log

    report("prefect", flow_run_seconds=round(seconds, 2), jobs=3)

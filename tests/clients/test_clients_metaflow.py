"""Metaflow, unmodified, against `batchemu serve --runner docker`: `python fanout.py run --with batch`
runs a flow with a foreach (six Batch jobs) to its end with its documented settings (S3 datastore through
the same endpoint, a job queue, an IAM role, a container image), the artifacts read back through
Metaflow's client API are right (with what each task recorded from the ECS task environment), and
`python fanout.py logs` shows the steps' output."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.clients.harness import CLIENTS_IMAGE, PROJECTS, Served, client_python, run_client

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(1200)]

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \[(\d+)/(\w+)/(\d+) \(pid \d+\)\] (.*)$")


@pytest.fixture(scope="module")
def metaflow_python() -> Path:
    return client_python("metaflow")


def task_seconds(output: str) -> dict[str, float]:
    """step/task -> seconds from Metaflow's `Task is starting.` (just before it submits the job) to its
    `Task finished successfully.` (after it saw SUCCEEDED and read the task's logs)."""
    started: dict[str, datetime] = {}
    seconds: dict[str, float] = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        stamp, _, step, task, message = match.groups()
        key, when = f"{step}/{task}", datetime.fromisoformat(stamp)
        if message == "Task is starting.":
            started[key] = when
        elif message == "Task finished successfully." and key in started:
            seconds[key] = round((when - started[key]).total_seconds(), 2)
    return seconds


def test_metaflow_runs_a_foreach_flow_on_batch_and_shows_its_logs(
    metaflow_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    shutil.copy(PROJECTS / "metaflow" / "fanout.py", tmp_path)
    env = served.env(
        METAFLOW_HOME=str(tmp_path / "metaflow-home"),
        METAFLOW_USER="tester",
        METAFLOW_DEFAULT_DATASTORE="s3",
        METAFLOW_DATASTORE_SYSROOT_S3=f"s3://{served.bucket}/metaflow",
        METAFLOW_S3_ENDPOINT_URL=served.endpoint,
        METAFLOW_BATCH_JOB_QUEUE=served.queue,
        METAFLOW_ECS_S3_ACCESS_IAM_ROLE="arn:aws:iam::123456789012:role/metaflow-batch",
        METAFLOW_BATCH_CONTAINER_IMAGE=CLIENTS_IMAGE.removesuffix(":latest"),
    )
    flow = [str(metaflow_python), "fanout.py"]

    started = time.monotonic()
    result = run_client(served, [*flow, "run", "--with", "batch"], env, tmp_path, timeout=1000)
    run_seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert "Done!" in output
    [run_id] = re.findall(r"Workflow starting \(run-id (\d+)\)", output)
    per_task = task_seconds(output)
    assert sorted(key.split("/")[0] for key in per_task) == [
        "end",
        "join",
        "square",
        "square",
        "square",
        "start",
    ]

    shutil.copy(PROJECTS / "metaflow" / "read_run.py", tmp_path)
    read = run_client(served, [str(metaflow_python), "read_run.py", run_id], env, tmp_path)
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {
        "successful": True,
        "total": 14,
        "squared": [1, 4, 9],
        "execution_env": "AWS_ECS_EC2",  # recorded from AWS_EXECUTION_ENV
        "awslogs_group": "/aws/batch/job",  # from LogOptions at ECS_CONTAINER_METADATA_URI_V4
    }
    jobs = [job for job in served.jobs("SUCCEEDED") if f"-FanOutFlow-{run_id}-" in job["jobName"]]
    assert len(jobs) == 6
    assert {job["container"]["image"] for job in jobs} == {CLIENTS_IMAGE.removesuffix(":latest")}

    joined = run_client(served, [*flow, "logs", f"{run_id}/join"], env, tmp_path)
    assert "total of squares 14" in joined.stdout + joined.stderr
    squares = "".join(
        run_client(served, [*flow, "logs", f"{run_id}/square/{task.split('/')[1]}"], env, tmp_path).stdout
        for task in per_task
        if task.startswith("square/")
    )
    assert sorted(re.findall(r"squared \d to \d", squares)) == [
        "squared 1 to 1",
        "squared 2 to 4",
        "squared 3 to 9",
    ]

    report(
        "metaflow",
        task_submit_to_succeeded_seconds=per_task,
        server_submit_to_succeeded_seconds=sorted(
            round((job["stoppedAt"] - job["createdAt"]) / 1000, 2) for job in jobs
        ),
        run_seconds=round(run_seconds, 1),
    )

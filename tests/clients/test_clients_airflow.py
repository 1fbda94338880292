"""Airflow 3 with apache-airflow-providers-amazon, unmodified, against `batchemu serve --runner docker`:
`airflow dags test` runs a DAG whose BatchCreateComputeEnvironmentOperator and BatchOperator use their
default arguments (they send empty `tags` maps), the jobs SUCCEED with the right output in S3, and a
BatchOperator with awslogs_enabled copies the job's CloudWatch log line into the task log."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.clients.harness import PROJECTS, PYTHON_IMAGE, Served, client_python, run_client
from tests.helpers import container

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(900)]

STARTED = re.compile(r"^(\S+Z) \[info\s*\] AWS Batch job \(([0-9a-f-]+)\) started:", re.M)
SUCCEEDED = re.compile(r"^(\S+Z) \[info\s*\] AWS Batch job \(([0-9a-f-]+)\) succeeded \[", re.M)


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    return client_python("airflow")


def test_airflow_batch_operators_with_default_arguments_run_a_dag(
    airflow_python: Path, served: Served, tmp_path: Path, report: object
) -> None:
    writer = (
        "import boto3, sys; n = int(sys.argv[1]); "
        f"boto3.client('s3').put_object(Bucket='{served.bucket}', Key='airflow/%d.txt' % n, Body=str(n * n)); "
        "print('squared', n, 'to', n * n)"
    )
    served.client("batch").register_job_definition(
        jobDefinitionName="airflow-square",
        type="container",
        parameters={"n": "4"},
        containerProperties=container(["python3", "-c", writer, "Ref::n"], image=PYTHON_IMAGE),
    )
    (tmp_path / "dags").mkdir()
    shutil.copy(PROJECTS / "airflow" / "batch_dag.py", tmp_path / "dags")
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": served.endpoint, "region_name": "us-east-1"},
    }
    env = served.env(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(connection),
        BATCH_JOB_QUEUE=served.queue,
    )
    # Airflow's own endpoint settings only: no AWS_ENDPOINT_URL, so the connection is what points at batchemu.
    del env["AWS_ENDPOINT_URL"]
    airflow = str(airflow_python.parent / "airflow")

    started = time.monotonic()
    run_client(served, [airflow, "db", "migrate"], env, tmp_path)
    migrate_seconds = time.monotonic() - started
    result = run_client(served, [airflow, "dags", "test", "batchemu_batch"], env, tmp_path, timeout=800)
    dag_seconds = time.monotonic() - started - migrate_seconds
    output = result.stdout + result.stderr

    assert re.search(r"DagRun Finished: dag_id=batchemu_batch.*state=success", output), output[-3000:]
    [environment] = served.client("batch").describe_compute_environments(computeEnvironments=["airflow-ce"])[
        "computeEnvironments"
    ]
    assert (environment["type"], environment["state"]) == ("MANAGED", "ENABLED")
    assert [served.s3_text(f"airflow/{n}.txt") for n in (4, 5)] == ["16", "25"]
    assert "squared 5 to 25" in output  # the job's CloudWatch log line, fetched by the operator

    submitted = {job: datetime.fromisoformat(stamp) for stamp, job in STARTED.findall(output)}
    finished = {job: datetime.fromisoformat(stamp) for stamp, job in SUCCEEDED.findall(output)}
    assert len(submitted) == 2 and finished.keys() == submitted.keys(), output[-3000:]
    report(
        "airflow",
        submit_to_succeeded_seconds=sorted(
            round((finished[job] - submitted[job]).total_seconds(), 2) for job in submitted
        ),
        db_migrate_seconds=round(migrate_seconds, 1),
        dags_test_seconds=round(dag_seconds, 1),
    )

"""An Airflow DAG that drives AWS Batch with the Amazon provider's operators and their default arguments:
create a MANAGED compute environment, run a job and wait for it, then run it again with
awslogs_enabled=True so the operator copies the job's CloudWatch log lines into the task log.
The AWS connection is `aws_default`, from AIRFLOW_CONN_AWS_DEFAULT (its extra carries endpoint_url)."""

import os

import pendulum
from airflow.providers.amazon.aws.operators.batch import BatchCreateComputeEnvironmentOperator, BatchOperator
from airflow.sdk import DAG

with DAG(
    "batchemu_batch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    create_compute_environment = BatchCreateComputeEnvironmentOperator(
        task_id="create_compute_environment",
        compute_environment_name="airflow-ce",
        environment_type="MANAGED",
        state="ENABLED",
        compute_resources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 4,
            "instanceTypes": ["optimal"],
            "subnets": ["subnet-1"],
            "securityGroupIds": ["sg-1"],
            "instanceRole": "ecsInstanceRole",
        },
    )
    square = BatchOperator(
        task_id="square",
        job_name="airflow-square",
        job_definition="airflow-square",
        job_queue=os.environ["BATCH_JOB_QUEUE"],
    )
    square_with_logs = BatchOperator(
        task_id="square_with_logs",
        job_name="airflow-square-logs",
        job_definition="airflow-square",
        job_queue=os.environ["BATCH_JOB_QUEUE"],
        parameters={"n": "5"},
        awslogs_enabled=True,
    )
    create_compute_environment >> square >> square_with_logs

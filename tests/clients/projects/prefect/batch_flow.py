"""A Prefect 3 flow that runs AWS Batch jobs with prefect-aws, as its documentation shows: batch_submit
submits each job and client_waiter waits for it with a custom DescribeJobs waiter (botocore has no Batch
waiters). Run locally (`python batch_flow.py <queue> <job definition> <failing job definition> <n>...`):
no Prefect server, the flow run uses Prefect's ephemeral API. Prints the job ids and the state of the wait
for the failing job as JSON on its last line."""

import json
import sys

from prefect import flow
from prefect_aws import AwsCredentials
from prefect_aws.batch import batch_submit
from prefect_aws.client_waiter import client_waiter

JOBS_DONE = {
    "version": 2,
    "waiters": {
        "JobsDone": {
            "operation": "DescribeJobs",
            "delay": 1,
            "maxAttempts": 120,
            "acceptors": [
                {
                    "argument": "jobs[].status",
                    "expected": "SUCCEEDED",
                    "matcher": "pathAll",
                    "state": "success",
                },
                {"argument": "jobs[].status", "expected": "FAILED", "matcher": "pathAny", "state": "failure"},
            ],
        }
    },
}


@flow(log_prints=True)
def squares_on_batch(queue: str, definition: str, failing: str, numbers: list[int]) -> dict[str, object]:
    credentials = AwsCredentials()  # boto3's default chain: the AWS_* variables
    job_ids = [
        batch_submit(
            f"prefect-square-{n}",
            queue,
            definition,
            credentials,
            parameters={"n": str(n)},
            containerOverrides={"environment": [{"name": "SUBMITTED_BY", "value": "prefect"}]},
        )
        for n in numbers
    ]
    failing_id = batch_submit("prefect-failing", queue, failing, credentials)
    client_waiter("batch", "JobsDone", credentials, waiter_definition=JOBS_DONE, jobs=job_ids)
    print("jobs done:", job_ids)
    waited = client_waiter(
        "batch", "JobsDone", credentials, waiter_definition=JOBS_DONE, jobs=[failing_id], return_state=True
    )
    print("failing job's wait:", waited.type.value, waited.message)
    return {"squares": job_ids, "failing": failing_id, "failing_wait": waited.type.value}


if __name__ == "__main__":
    outcome = squares_on_batch(sys.argv[1], sys.argv[2], sys.argv[3], [int(n) for n in sys.argv[4:]])
    print(json.dumps(outcome))

"""Creates the thumbnail pipeline's resources through boto3, the way you would on AWS: two buckets, a
DynamoDB table, a compute environment, a job queue, a job definition, and the trigger:
- `eventbridge` (option 2): an EventBridge rule that sends S3 "Object Created" events of the upload bucket
  to the job queue (with S3's EventBridge notifications on);
- `lambda` (option 1): the Lambda function in function/ (python3.12), allowed to be invoked by S3, and the
  upload bucket's notification invoking it on every "ObjectCreated"; it submits the job.
Each trigger replaces the bucket's notification configuration, so the other one no longer fires.
Re-running it against the same endpoint reuses what exists.

    python provision.py --endpoint http://127.0.0.1:8000 --image batchemu-examples/thumbnail:latest \
        [--trigger eventbridge|lambda]
"""

from __future__ import annotations

import argparse
import io
import json
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_DIR = Path(__file__).resolve().parent / "function"
TRIGGERS = ("eventbridge", "lambda")


@dataclass(frozen=True)
class Names:
    prefix: str = "thumbnail-demo"

    @property
    def uploads(self) -> str:
        return f"{self.prefix}-uploads"

    @property
    def thumbnails(self) -> str:
        return f"{self.prefix}-thumbnails"

    @property
    def table(self) -> str:
        return f"{self.prefix}-images"

    @property
    def compute_environment(self) -> str:
        return f"{self.prefix}-ce"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-queue"

    @property
    def job_definition(self) -> str:
        return f"{self.prefix}-job"

    @property
    def rule(self) -> str:
        return f"{self.prefix}-on-upload"

    @property
    def function(self) -> str:
        return f"{self.prefix}-submit"


def client(endpoint: str, service: str) -> Any:
    # On the emulator a 12-digit access key names the account; on AWS, drop these arguments.
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="batchemu",
    )


def provision(
    endpoint: str, image: str, names: Names = Names(), thumbnail_size: int = 128, trigger: str = "eventbridge"
) -> dict[str, str]:
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    create_storage(endpoint, names)
    queue_arn = create_batch(endpoint, names, image, thumbnail_size)
    if trigger == "lambda":
        create_function(endpoint, names)
    else:
        create_rule(endpoint, names, queue_arn)
    return {**asdict(names), "queue_arn": queue_arn, "image": image, "trigger": trigger}


def create_storage(endpoint: str, names: Names) -> None:
    s3 = client(endpoint, "s3")
    for bucket in (names.uploads, names.thumbnails):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    dynamodb = client(endpoint, "dynamodb")
    try:
        dynamodb.create_table(
            TableName=names.table,
            KeySchema=[{"AttributeName": "source_key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "source_key", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except dynamodb.exceptions.ResourceInUseException:
        pass
    dynamodb.get_waiter("table_exists").wait(
        TableName=names.table, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def create_batch(endpoint: str, names: Names, image: str, thumbnail_size: int) -> str:
    batch = client(endpoint, "batch")
    if not batch.describe_compute_environments(computeEnvironments=[names.compute_environment])[
        "computeEnvironments"
    ]:
        batch.create_compute_environment(
            computeEnvironmentName=names.compute_environment,
            type="MANAGED",
            computeResources={
                "type": "EC2",
                "minvCpus": 0,
                "maxvCpus": 4,
                "instanceTypes": ["optimal"],
                "subnets": ["subnet-00000001"],
                "securityGroupIds": ["sg-00000001"],
                "instanceRole": "ecsInstanceRole",
            },
        )
    _wait_valid(
        lambda: batch.describe_compute_environments(computeEnvironments=[names.compute_environment])[
            "computeEnvironments"
        ]
    )
    if not batch.describe_job_queues(jobQueues=[names.queue])["jobQueues"]:
        batch.create_job_queue(
            jobQueueName=names.queue,
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": names.compute_environment}],
        )
    queues = _wait_valid(lambda: batch.describe_job_queues(jobQueues=[names.queue])["jobQueues"])
    batch.register_job_definition(
        jobDefinitionName=names.job_definition,
        type="container",
        # Defaults, replaced by the Parameters the EventBridge rule's input transformer sends.
        parameters={"S3bucket": names.uploads, "S3key": "none"},
        retryStrategy={"attempts": 2},
        timeout={"attemptDurationSeconds": 300},
        containerProperties={
            "image": image,
            "command": ["python3", "/app/thumbnail.py", "Ref::S3bucket", "Ref::S3key"],
            "environment": [
                {"name": "TARGET_BUCKET", "value": names.thumbnails},
                {"name": "TABLE_NAME", "value": names.table},
                {"name": "THUMBNAIL_SIZE", "value": str(thumbnail_size)},
            ],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    return str(queues[0]["jobQueueArn"])


def create_rule(endpoint: str, names: Names, queue_arn: str) -> None:
    role_arn = _role(endpoint, f"{names.prefix}-events", "events.amazonaws.com")
    # S3 -> EventBridge: every object event of the bucket goes to the default event bus.
    client(endpoint, "s3").put_bucket_notification_configuration(
        Bucket=names.uploads, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    events = client(endpoint, "events")
    events.put_rule(
        Name=names.rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [names.uploads]}},
            }
        ),
    )
    # AWS's documented S3 -> Batch input transformer: placeholders unquoted, EventBridge quotes strings.
    events.put_targets(
        Rule=names.rule,
        Targets=[
            {
                "Id": "thumbnail-queue",
                "Arn": queue_arn,
                "RoleArn": role_arn,
                "BatchParameters": {"JobDefinition": names.job_definition, "JobName": "thumbnail"},
                "InputTransformer": {
                    "InputPathsMap": {
                        "S3BucketValue": "$.detail.bucket.name",
                        "S3KeyValue": "$.detail.object.key",
                    },
                    "InputTemplate": '{"Parameters" : {"S3bucket": <S3BucketValue>, "S3key": <S3KeyValue>}}',
                },
            }
        ],
    )


def create_function(endpoint: str, names: Names) -> None:
    """Option 1: S3 invokes the function (asynchronously) for each new object; the function submits the job."""
    role_arn = _role(endpoint, f"{names.prefix}-lambda", "lambda.amazonaws.com")
    awslambda = client(endpoint, "lambda")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(FUNCTION_DIR / "submit_thumbnail.py", "submit_thumbnail.py")
    settings = {
        "Runtime": "python3.12",
        "Role": role_arn,
        "Handler": "submit_thumbnail.handler",
        "Timeout": 30,
        "Environment": {"Variables": {"JOB_QUEUE": names.queue, "JOB_DEFINITION": names.job_definition}},
    }
    try:
        function_arn = awslambda.create_function(
            FunctionName=names.function, Code={"ZipFile": package.getvalue()}, **settings
        )["FunctionArn"]
        # On AWS, S3 may invoke the function only with this resource-based permission.
        awslambda.add_permission(
            FunctionName=names.function,
            StatementId="s3-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:aws:s3:::{names.uploads}",
            SourceAccount=ACCOUNT,
        )
    except awslambda.exceptions.ResourceConflictException:
        awslambda.update_function_code(FunctionName=names.function, ZipFile=package.getvalue())
        function_arn = awslambda.update_function_configuration(FunctionName=names.function, **settings)[
            "FunctionArn"
        ]
    client(endpoint, "s3").put_bucket_notification_configuration(
        Bucket=names.uploads,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "thumbnail", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )


def _role(endpoint: str, name: str, service: str) -> str:
    """A role `service` may assume (created when missing)."""
    iam = client(endpoint, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def _wait_valid(describe: Any, deadline: float = 60.0) -> list[dict[str, Any]]:
    give_up = time.monotonic() + deadline
    while True:
        found = describe()
        if found and all(item.get("status") == "VALID" for item in found):
            return list(found)
        if time.monotonic() > give_up:
            raise TimeoutError(f"not VALID after {deadline}s: {found}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--image", default="batchemu-examples/thumbnail:latest")
    parser.add_argument("--prefix", default=Names.prefix)
    parser.add_argument("--trigger", choices=TRIGGERS, default="eventbridge")
    args = parser.parse_args()
    print(json.dumps(provision(args.endpoint, args.image, Names(args.prefix), trigger=args.trigger)))


if __name__ == "__main__":
    main()

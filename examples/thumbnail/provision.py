"""Creates the thumbnail pipeline's resources through boto3, the way you would on AWS: two buckets, a
DynamoDB table, a compute environment, a job queue, a job definition, and an EventBridge rule that sends
S3 "Object Created" events of the upload bucket to the job queue (with S3's EventBridge notifications on).
Re-running it against the same endpoint reuses what exists.

    python provision.py --endpoint http://127.0.0.1:8000 --image batchemu-examples/thumbnail:latest
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"


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


def client(endpoint: str, service: str) -> Any:
    # On the emulator a 12-digit access key names the account; on AWS, drop these arguments.
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="batchemu",
    )


def provision(endpoint: str, image: str, names: Names = Names(), thumbnail_size: int = 128) -> dict[str, str]:
    create_storage(endpoint, names)
    queue_arn = create_batch(endpoint, names, image, thumbnail_size)
    create_rule(endpoint, names, queue_arn)
    return {**asdict(names), "queue_arn": queue_arn, "image": image}


def create_storage(endpoint: str, names: Names) -> None:
    s3 = client(endpoint, "s3")
    for bucket in (names.uploads, names.thumbnails):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    # S3 -> EventBridge: every object event of the bucket goes to the default event bus.
    s3.put_bucket_notification_configuration(
        Bucket=names.uploads, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
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
    iam = client(endpoint, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        role_arn = iam.create_role(
            RoleName=f"{names.prefix}-events", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role_arn = iam.get_role(RoleName=f"{names.prefix}-events")["Role"]["Arn"]
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
    args = parser.parse_args()
    print(json.dumps(provision(args.endpoint, args.image, Names(args.prefix))))


if __name__ == "__main__":
    main()

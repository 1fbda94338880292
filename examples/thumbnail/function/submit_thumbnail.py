"""The Lambda function of the thumbnail pipeline's option 1 (S3 -> Lambda -> Batch): for each S3
"ObjectCreated" record, SubmitJob on the job queue with the bucket and key as the job's parameters.
Plain boto3, no batchemu imports: the same file deploys to AWS Lambda (runtime python3.12, handler
submit_thumbnail.handler, JOB_QUEUE and JOB_DEFINITION in its environment)."""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Any

import boto3

batch = boto3.client("batch")  # created once per container, as Lambda's guidance has it


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    submitted = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])  # S3 sends the key URL-encoded
        job = batch.submit_job(
            jobName=re.sub(r"[^A-Za-z0-9_-]", "-", f"thumbnail-{key}")[:128],
            jobQueue=os.environ["JOB_QUEUE"],
            jobDefinition=os.environ["JOB_DEFINITION"],
            parameters={"S3bucket": bucket, "S3key": key},
        )
        print(f"submitted {job['jobId']} for s3://{bucket}/{key}")
        submitted.append(job["jobId"])
    return {"jobIds": submitted}

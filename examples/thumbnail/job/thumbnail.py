"""Makes a thumbnail of one S3 image: the code of an AWS Batch job, plain boto3 and Pillow, the same on AWS.

Usage: thumbnail.py <source bucket> <source key>   (the job definition passes Ref::S3bucket Ref::S3key)
Environment: TARGET_BUCKET (required), TABLE_NAME (required), THUMBNAIL_SIZE (default 128),
AWS_BATCH_JOB_ID (set by Batch). S3_BUCKET / S3_KEY may stand in for the arguments.
"""

from __future__ import annotations

import io
import os
import sys

import boto3
from PIL import Image


def make_thumbnail(data: bytes, size: int) -> tuple[bytes, tuple[int, int], tuple[int, int], str]:
    with Image.open(io.BytesIO(data)) as image:
        original = image.size
        image_format = image.format or "PNG"
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, format=image_format)
        return out.getvalue(), original, image.size, image_format


def main(argv: list[str]) -> int:
    bucket = argv[1] if len(argv) > 1 else os.environ.get("S3_BUCKET", "")
    key = argv[2] if len(argv) > 2 else os.environ.get("S3_KEY", "")
    if not bucket or not key:
        print("usage: thumbnail.py <bucket> <key> (or S3_BUCKET and S3_KEY)", file=sys.stderr)
        return 2
    target_bucket = os.environ["TARGET_BUCKET"]
    table_name = os.environ["TABLE_NAME"]
    size = int(os.environ.get("THUMBNAIL_SIZE", "128"))
    job_id = os.environ.get("AWS_BATCH_JOB_ID", "local")

    s3 = boto3.client("s3")
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    thumbnail, original, small, image_format = make_thumbnail(data, size)
    target_key = f"thumbnails/{key}"
    s3.put_object(
        Bucket=target_bucket, Key=target_key, Body=thumbnail, ContentType=f"image/{image_format.lower()}"
    )
    boto3.resource("dynamodb").Table(table_name).put_item(
        Item={
            "source_key": key,
            "source_bucket": bucket,
            "thumbnail_key": target_key,
            "width": original[0],
            "height": original[1],
            "thumbnail_width": small[0],
            "thumbnail_height": small[1],
            "job_id": job_id,
        }
    )
    print(
        f"s3://{bucket}/{key} {original[0]}x{original[1]} -> s3://{target_bucket}/{target_key} {small[0]}x{small[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

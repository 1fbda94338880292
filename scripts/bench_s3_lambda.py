#!/usr/bin/env python
"""Benchmark (not a test) of PutObject with an S3 -> Lambda notification, against a served emulator with
real Lambda containers: the median and max PutObject latency (a) with no notification, (b) with a Lambda
notification as batchemu runs it (queued, off the request thread), (c) with moto's own inline call (the
function runs inside PutObject). Prints one JSON line.

    python scripts/bench_s3_lambda.py [--puts 10]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import zipfile
from typing import Any

from bench_api import client  # scripts/ is on sys.path when a script runs

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def latencies(s3: Any, bucket: str, puts: int) -> dict[str, float]:
    seconds = []
    for index in range(puts):
        started = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"key-{index}", Body=b"x")
        seconds.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(seconds) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def function(endpoint: str) -> str:
    role = client(endpoint, service="iam").create_role(
        RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    created = client(endpoint, service="lambda").create_function(
        FunctionName="bench",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": package.getvalue()},
    )
    return str(created["FunctionArn"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=10)
    args = parser.parse_args()
    from moto.s3 import notifications

    with ServerThread(Emulator(Settings(runner="simulated"))) as server:
        s3, arn = client(server.endpoint, service="s3"), function(server.endpoint)
        for bucket in ("plain", "notified"):
            s3.create_bucket(Bucket=bucket)
        configuration = {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
        s3.put_bucket_notification_configuration(
            Bucket="notified", NotificationConfiguration={"LambdaFunctionConfigurations": [configuration]}
        )
        latencies(s3, "plain", 3)  # warm up
        result = {"no_notification": latencies(s3, "plain", args.puts)}
        result["lambda_queued"] = latencies(s3, "notified", args.puts)
        time.sleep(args.puts * 1.0)  # let the queued runs end before measuring the inline way
        hooked = notifications._invoke_awslambda
        notifications._invoke_awslambda = hooked.__wrapped__  # type: ignore[attr-defined]
        try:
            result["lambda_inline_as_moto"] = latencies(s3, "notified", args.puts)
        finally:
            notifications._invoke_awslambda = hooked
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""The thumbnail pipeline end to end on one machine: starts batchemu (or uses BATCHEMU_ENDPOINT), builds the
job image when missing, provisions, uploads a few generated PNGs, waits for every thumbnail and DynamoDB
item, and prints a one-line JSON summary. Exits 0 only when every image was processed.

    python examples/thumbnail/run.py [--count 3] [--timeout 300] [--trigger eventbridge|lambda]

--trigger eventbridge (the default; option 2): S3 -> EventBridge rule -> Batch job queue.
--trigger lambda (option 1): S3 -> Lambda function (function/submit_thumbnail.py) -> SubmitJob.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from provision import TRIGGERS, Names, client, provision  # noqa: E402

OFFLINE_BASE = "batchemu-test/python:latest"
LAMBDA_RUNTIME = "batchemu-test/lambda-python:latest"  # what batchemu runs python3.x functions in
THUMBNAIL_SIZE = 128
SIZES = [(640, 480), (300, 900), (1024, 256), (200, 200), (96, 64)]


# -- the emulator ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(log_file: Any) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "batchemu",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--runner",
        "docker",
    ]
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=environment,
        # Ctrl-C must reach it even when this script runs where SIGINT is ignored (a background job).
        preexec_fn=_default_sigint if os.name == "posix" else None,
    )
    endpoint = f"http://127.0.0.1:{port}"
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"batchemu serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_batchemu/health", timeout=2):
                return endpoint, process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError("batchemu serve did not answer within 60s")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user would: batchemu then removes the job containers it started."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the job image --------------------------------------------------------------------------------------
def docker_image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def job_image() -> str:
    """batchemu-examples/thumbnail:<hash of the job folder>, built when missing (from the offline test
    image when it exists locally, as no registry is reachable in CI)."""
    digest = hashlib.sha256()
    for path in sorted((HERE / "job").iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    image = f"batchemu-examples/thumbnail:{digest.hexdigest()[:12]}"
    if docker_image_exists(image):
        return image
    command = ["docker", "build", "--network", "host", "-t", image]
    if docker_image_exists(OFFLINE_BASE):
        command += ["--build-arg", f"BASE_IMAGE={OFFLINE_BASE}"]
    result = subprocess.run([*command, str(HERE / "job")], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"docker build failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return image


# -- images, without Pillow on the host -----------------------------------------------------------------
def png(width: int, height: int, seed: int) -> bytes:
    """An RGB gradient PNG, written with the standard library."""
    rows = b"".join(
        b"\x00"  # filter type none
        + bytes(
            value
            for x in range(width)
            for value in ((x * 255 // width + seed * 40) % 256, y * 255 // height, (seed * 60) % 256)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# -- the run --------------------------------------------------------------------------------------------
def upload(endpoint: str, names: Names, count: int) -> dict[str, tuple[int, int]]:
    s3 = client(endpoint, "s3")
    run_id = uuid.uuid4().hex[:8]
    uploaded = {}
    for index in range(count):
        width, height = SIZES[index % len(SIZES)]
        key = f"uploads/{run_id}/image-{index}.png"
        s3.put_object(Bucket=names.uploads, Key=key, Body=png(width, height, index), ContentType="image/png")
        uploaded[key] = (width, height)
    return uploaded


def check(endpoint: str, names: Names, key: str, size: tuple[int, int]) -> dict[str, Any] | None:
    """The job id when the thumbnail and the item are there and right; None while they are not."""
    s3, table = client(endpoint, "s3"), client(endpoint, "dynamodb")
    item = table.get_item(TableName=names.table, Key={"source_key": {"S": key}}).get("Item")
    if item is None:
        return None
    try:
        data = s3.get_object(Bucket=names.thumbnails, Key=item["thumbnail_key"]["S"])["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    small = png_size(data)
    expected_scale = min(THUMBNAIL_SIZE / size[0], THUMBNAIL_SIZE / size[1], 1.0)
    problems = []
    if max(small) > THUMBNAIL_SIZE or abs(small[0] - size[0] * expected_scale) > 1.5:
        problems.append(f"thumbnail is {small}, source {size}")
    if (int(item["width"]["N"]), int(item["height"]["N"])) != size:
        problems.append(f"item records size {item['width']}x{item['height']}")
    if (int(item["thumbnail_width"]["N"]), int(item["thumbnail_height"]["N"])) != small:
        problems.append("item records another thumbnail size")
    return {"key": key, "job_id": item["job_id"]["S"], "thumbnail": small, "problems": problems}


def wait_for(
    endpoint: str, names: Names, uploaded: dict[str, tuple[int, int]], timeout: float, since_ms: int
) -> dict[str, Any]:
    """Polls until every upload has its thumbnail and item, the deadline passes, or the jobs that
    failed (for good: retries are spent) leave nothing more to wait for."""
    done: dict[str, Any] = {}
    give_up = time.monotonic() + timeout
    while len(done) < len(uploaded) and time.monotonic() < give_up:
        for key, size in uploaded.items():
            if key not in done:
                found = check(endpoint, names, key, size)
                if found is not None:
                    done[key] = found
        if len(done) + failed_jobs(endpoint, names, since_ms) >= len(uploaded) > len(done):
            break
        time.sleep(0.5)
    return done


def failed_jobs(endpoint: str, names: Names, since_ms: int) -> int:
    summaries = client(endpoint, "batch").list_jobs(jobQueue=names.queue, jobStatus="FAILED")[
        "jobSummaryList"
    ]
    return sum(1 for job in summaries if job["createdAt"] >= since_ms)


def job_statuses(endpoint: str, names: Names, job_ids: list[str]) -> dict[str, str]:
    batch = client(endpoint, "batch")
    known = [job_id for job_id in job_ids if job_id]
    jobs = batch.describe_jobs(jobs=known)["jobs"] if known else []
    return {job["jobId"]: job["status"] for job in jobs}


def report_jobs(endpoint: str, names: Names) -> None:
    batch = client(endpoint, "batch")
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
        for job in batch.list_jobs(jobQueue=names.queue, jobStatus=status)["jobSummaryList"]:
            print(f"  job {job['jobId']} {status} {job.get('statusReason', '')}", file=sys.stderr)


def check_lambda_runtime() -> None:
    if not os.environ.get("MOTO_DOCKER_LAMBDA_IMAGE") and not docker_image_exists(LAMBDA_RUNTIME):
        raise RuntimeError(
            f"--trigger lambda runs the function in {LAMBDA_RUNTIME}: scripts/build-test-images builds it"
        )


def run(endpoint: str, count: int, timeout: float, trigger: str = "eventbridge") -> dict[str, Any]:
    started = time.monotonic()
    names = Names()
    image = job_image()
    if trigger == "lambda":
        check_lambda_runtime()
    provision(endpoint, image, names, THUMBNAIL_SIZE, trigger=trigger)
    since_ms = int(time.time() * 1000) - 1000
    uploaded = upload(endpoint, names, count)
    give_up = time.monotonic() + timeout
    done = wait_for(endpoint, names, uploaded, timeout, since_ms)
    job_ids = [found["job_id"] for found in done.values()]
    statuses = job_statuses(endpoint, names, job_ids)
    # The outputs appear before the container exits; the jobs end moments later.
    while any(s not in ("SUCCEEDED", "FAILED") for s in statuses.values()) and time.monotonic() < give_up:
        time.sleep(0.5)
        statuses = job_statuses(endpoint, names, job_ids)
    problems = [f"{key}: {problem}" for key, found in done.items() for problem in found["problems"]]
    problems += [f"{key}: no thumbnail or item" for key in uploaded if key not in done]
    problems += [
        f"{found['key']}: job {found['job_id']} is {statuses.get(found['job_id'], 'unknown')}"
        for found in done.values()
        if statuses.get(found["job_id"]) != "SUCCEEDED"
    ]
    if problems:
        report_jobs(endpoint, names)
    return {
        "ok": not problems,
        "trigger": trigger,
        "images": len(uploaded),
        "thumbnails": sum(1 for found in done.values() if not found["problems"]),
        "items": len(done),
        "jobs": sorted(found["job_id"] for found in done.values()),
        "image": image,
        "seconds": round(time.monotonic() - started, 1),
        "problems": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3, help="images to upload (default 3)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the thumbnails")
    parser.add_argument(
        "--trigger",
        choices=TRIGGERS,
        default="eventbridge",
        help="what submits the jobs: an EventBridge rule (default) or a Lambda function",
    )
    args = parser.parse_args()
    endpoint = os.environ.get("BATCHEMU_ENDPOINT")
    process = None
    with tempfile.TemporaryFile() as log_file:
        try:
            if endpoint is None:
                endpoint, process = start_emulator(log_file)
            summary = run(endpoint, args.count, args.timeout, args.trigger)
        except Exception as error:
            summary = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        finally:
            if process is not None:
                stop(process)
        if not summary["ok"] and process is not None:
            log_file.seek(0)
            sys.stderr.write(log_file.read().decode(errors="replace")[-4000:])
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

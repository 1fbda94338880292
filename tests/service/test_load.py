"""Load: 16 concurrent boto3 clients submit 500 jobs each to a dedicated in-process server (simulated
runner, real clock); no job is lost or duplicated, every one reaches SUCCEEDED and the server stays healthy.
Prints submit throughput and time to all-SUCCEEDED (figures for docs/reliability.md)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config

from batchemu import Emulator, ServerThread
from batchemu.clock import SystemClock
from batchemu.config import Settings
from tests.helpers import container, provision

CLIENTS = 16
JOBS_PER_CLIENT = 500
COMPLETION_DEADLINE_SECONDS = 180
ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


@pytest.fixture(scope="module")
def load_server() -> Iterator[ServerThread]:
    running = ServerThread(Emulator(Settings(runner="simulated"), clock=SystemClock())).start()
    yield running
    # Stopping drains the outbox (log shipping to CloudWatch Logs, events) on this thread; timed because
    # under this load it is by far the slowest part of the test.
    began = time.perf_counter()
    running.stop()
    print(f"\n== load: server stop (draining the outbox) took {time.perf_counter() - began:.1f} s ==")


def make_client(endpoint: str) -> Any:
    # Each thread has its own session and client (boto3 sessions are not thread-safe); a thread sends one
    # request at a time, so two pooled connections are plenty. No retries: every first attempt must land.
    return boto3.session.Session().client(
        "batch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=2, retries={"max_attempts": 1, "mode": "standard"}),
    )


def create_queue(batch: Any) -> None:
    provision(
        batch,
        ce="load-ce",
        queue="load-q",
        max_vcpus=256,
        definition="load-jd",
        properties=container(["true"], memory=128),
    )


@dataclass
class HealthWatch:
    """Polls /_batchemu/health on its own thread until stopped; keeps every failure and the slowest answer."""

    port: int
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/_batchemu/health")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                self.failures.append(f"health answered {response.status}")
        except (http.client.HTTPException, OSError) as error:
            self.failures.append(f"health failed: {error!r}")
        finally:
            connection.close()
        self.checks += 1
        self.slowest = max(self.slowest, time.perf_counter() - started)

    def run(self) -> None:
        while not self._stop.wait(0.25):
            self.check()

    def stop(self) -> None:
        self._stop.set()


def submit_all(endpoint: str) -> tuple[list[list[str]], list[str], float]:
    """(job ids per client, errors, seconds) for CLIENTS threads submitting JOBS_PER_CLIENT jobs each."""
    clients = [make_client(endpoint) for _ in range(CLIENTS)]
    ids: list[list[str]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []
    start = threading.Barrier(CLIENTS + 1)

    def work(index: int) -> None:
        start.wait()
        for number in range(JOBS_PER_CLIENT):
            try:
                response = clients[index].submit_job(
                    jobName=f"load-{index}-{number}", jobQueue="load-q", jobDefinition="load-jd"
                )
                ids[index].append(response["jobId"])
            except Exception as error:
                errors.append(f"client {index} job {number}: {error!r}")

    threads = [
        threading.Thread(target=work, args=(index,), name=f"load-client-{index}") for index in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return ids, errors, time.perf_counter() - began


def count(batch: Any, status: str) -> int:
    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue="load-q", jobStatus=status, PaginationConfig={"PageSize": 1000}
    )
    return sum(len(page["jobSummaryList"]) for page in pages)


def wait_until_all_finished(batch: Any, deadline: float) -> dict[str, int]:
    """Polls ListJobs counts per status until no job is active (or the deadline passes)."""
    while True:
        counts = {status: count(batch, status) for status in ACTIVE_STATUSES}
        if not any(counts.values()) or time.perf_counter() > deadline:
            return counts
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_16_clients_submitting_500_jobs_each_lose_none_and_all_succeed(load_server: ServerThread) -> None:
    batch = make_client(load_server.endpoint)
    create_queue(batch)
    watch = HealthWatch(load_server.port)
    watcher = threading.Thread(target=watch.run, name="load-health", daemon=True)
    watcher.start()
    try:
        began = time.perf_counter()
        per_client, errors, submit_seconds = submit_all(load_server.endpoint)
        left = wait_until_all_finished(batch, time.perf_counter() + COMPLETION_DEADLINE_SECONDS)
        finished = time.perf_counter() - began
    finally:
        watch.stop()
        watcher.join()
    watch.check()  # and after
    submitted = [job_id for ids in per_client for job_id in ids]
    total = CLIENTS * JOBS_PER_CLIENT
    print(
        f"\n== load: {len(submitted)} jobs from {CLIENTS} clients in {submit_seconds:.1f} s "
        f"({len(submitted) / submit_seconds:.0f} submits/s); all finished {finished:.1f} s after the first "
        f"submit ({finished - submit_seconds:.1f} s after the last); {watch.checks} health checks, slowest "
        f"{watch.slowest * 1000:.0f} ms, {len(watch.failures)} failed; outbox backlog "
        f"{load_server.emulator.outbox.backlog} tasks =="
    )
    assert errors == [], errors[:5]
    assert len(submitted) == total
    assert len(set(submitted)) == total, "job ids are not unique"
    assert not any(left.values()), f"still active after {COMPLETION_DEADLINE_SECONDS} s: {left}"
    assert watch.failures == [], watch.failures[:5]

    described: dict[str, dict[str, Any]] = {}
    for offset in range(0, total, 100):
        for job in batch.describe_jobs(jobs=submitted[offset : offset + 100])["jobs"]:
            described[job["jobId"]] = job
    assert set(described) == set(submitted)
    assert {job["status"] for job in described.values()} == {"SUCCEEDED"}

    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue="load-q", jobStatus="SUCCEEDED", PaginationConfig={"PageSize": 1000}
    )
    listed = [summary["jobId"] for page in pages for summary in page["jobSummaryList"]]
    assert len(listed) == total and set(listed) == set(submitted)
    assert count(batch, "FAILED") == 0

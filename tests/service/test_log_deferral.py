"""The last log lines of an ended attempt may wait to be written into this process's CloudWatch Logs
(moto) until something reads them; every read through the server finds them all, the instant the job is
seen finished."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from moto.logs.models import logs_backends

from batchemu import Emulator
from batchemu.server import bind
from tests.helpers import ACCOUNT, REGION, log_messages, make_client, provision


@pytest.fixture
def unlooped() -> Iterator[tuple[Emulator, str]]:
    """A served emulator whose scheduler loop does not run: it never goes idle by itself, so nothing but
    a read (or a flush) writes the waiting lines."""
    emulator = Emulator.for_tests()
    server = bind("127.0.0.1", 0, emulator)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    emulator.reset()
    try:
        yield emulator, f"http://127.0.0.1:{server.server_port}"
    finally:
        emulator.stop()
        server.shutdown()
        server.server_close()
        emulator.reset()


def written_streams() -> set[str]:
    group = logs_backends[ACCOUNT][REGION].groups.get("/aws/batch/job")
    return set(group.streams) if group is not None else set()


def test_lines_wait_for_a_read_and_the_read_finds_them(unlooped: tuple[Emulator, str]) -> None:
    emulator, endpoint = unlooped
    batch, logs = make_client(endpoint), make_client(endpoint, service="logs")
    provision(batch, definition="jd")
    emulator.run_until_idle()
    ids = [
        batch.submit_job(
            jobName=f"j{i}", jobQueue="q", jobDefinition="jd", parameters={"greeting": f"hi{i}"}
        )["jobId"]
        for i in range(3)
    ]
    emulator.run_until_idle()
    jobs = batch.describe_jobs(jobs=ids)["jobs"]
    assert [job["status"] for job in jobs] == ["SUCCEEDED"] * 3
    streams = {job["container"]["logStreamName"] for job in jobs}
    assert not streams & written_streams()  # waiting: nothing read them yet
    first, *others = sorted(jobs, key=lambda job: job["jobName"])
    assert log_messages(emulator, logs, first) == ["simulated: echo hi0"]
    # GetLogEvents wrote the stream it reads, and only that one
    assert streams & written_streams() == {first["container"]["logStreamName"]}
    logs.describe_log_streams(logGroupName="/aws/batch/job")  # any other CloudWatch Logs call: all
    assert streams <= written_streams()
    for index, job in enumerate(others, start=1):
        assert log_messages(emulator, logs, job) == [f"simulated: echo hi{index}"]


def test_the_scheduler_writes_waiting_lines_when_it_goes_idle(batch: object, emulator: Emulator) -> None:
    provision(batch, definition="jd")
    emulator.run_until_idle()
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]  # type: ignore[attr-defined]
    emulator.run_until_idle()
    stream = batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]  # type: ignore[attr-defined]
    give_up = time.monotonic() + 10
    while stream not in written_streams():  # no read: the background loop's idle moment writes it
        assert time.monotonic() < give_up, "the waiting lines were never written"
        time.sleep(0.05)

"""The dashboard over plain HTTP: pages render what the store holds, user strings are escaped, unknown jobs
are 404, and the JSON summary counts jobs by status and capacity in use."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import container, provision

UI = "/_batchemu/ui"
SCRIPT = "<script>alert('x')</script>"


def get(server: ServerThread, path: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def summary(server: ServerThread, query: str = "") -> dict[str, Any]:
    status, _, body = get(server, f"{UI}/api/summary{query}")
    assert status == 200
    return json.loads(body)


@pytest.fixture
def queue(batch):  # type: ignore[no-untyped-def]
    provision(
        batch,
        ce="dash-ce",
        queue="dash-q",
        definition="dash-jd",
        properties=container(["echo", "Ref::note"], vcpus=2),
    )
    return "dash-q"


def submit(batch, name: str = "job", seconds: int = 0, exit_code: int = 0, note: str = "hi") -> str:  # type: ignore[no-untyped-def]
    environment = [
        {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
        {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)},
    ]
    return batch.submit_job(
        jobName=name,
        jobQueue="dash-q",
        jobDefinition="dash-jd",
        parameters={"note": note},
        containerOverrides={"environment": environment},
    )["jobId"]


def test_overview_renders_an_empty_emulator(server: ServerThread, emulator: Emulator) -> None:
    status, headers, body = get(server, UI)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "No compute environments yet" in body and "No jobs yet" in body


def test_overview_lists_compute_environment_queue_and_job(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    job_id = submit(batch, name="listed")
    emulator.run_until_idle()
    _, _, body = get(server, UI)
    assert 'data-name="dash-ce"' in body and 'data-name="dash-q"' in body
    assert f'href="{UI}/jobs/{job_id}"' in body
    assert "SUCCEEDED" in body


def test_summary_counts_jobs_by_status_per_queue(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    submit(batch)
    submit(batch)
    submit(batch, exit_code=3)
    emulator.run_until_idle()
    found = summary(server)
    [job_queue] = found["jobQueues"]
    assert job_queue["counts"]["SUCCEEDED"] == 2 and job_queue["counts"]["FAILED"] == 1
    assert found["totals"]["SUCCEEDED"] == 2 and found["totals"]["FAILED"] == 1
    assert found["page"]["total"] == 3


def test_capacity_in_use_is_the_vcpus_of_running_attempts(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    submit(batch, seconds=600)
    emulator.run_until_idle()
    [environment] = summary(server)["computeEnvironments"]
    assert (environment["vcpusUsed"], environment["maxvCpus"]) == (2, 4)
    _, _, body = get(server, UI)
    assert "2 of 4" in body


def test_jobs_are_listed_newest_first_in_pages(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    ids = [submit(batch, name=f"job-{n}") for n in range(5)]
    first = summary(server, "?limit=2")
    second = summary(server, "?limit=2&offset=2")
    assert [job["jobId"] for job in first["jobs"]] == [ids[4], ids[3]]
    assert [job["jobId"] for job in second["jobs"]] == [ids[2], ids[1]]
    _, _, body = get(server, f"{UI}?limit=2")
    assert "1-2 of 5 jobs" in body and 'rel="next"' in body


def test_jobs_of_two_queues_and_an_array_parent_are_merged_newest_first(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    batch.create_job_queue(
        jobQueueName="dash-q2",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "dash-ce"}],
    )
    first = submit(batch, name="one")
    array = batch.submit_job(
        jobName="array", jobQueue="dash-q2", jobDefinition="dash-jd", arrayProperties={"size": 3}
    )["jobId"]
    last = submit(batch, name="three")
    emulator.run_until_idle()
    found = summary(server)
    assert [job["jobId"] for job in found["jobs"]] == [last, array, first]  # the children are not rows
    assert found["totals"]["SUCCEEDED"] == 3 and found["page"]["total"] == 3
    assert summary(server, "?status=RUNNABLE")["page"]["total"] == 0


def test_status_filter_lists_only_that_status(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    submit(batch)
    failed = submit(batch, exit_code=1)
    emulator.run_until_idle()
    assert [job["jobId"] for job in summary(server, "?status=FAILED")["jobs"]] == [failed]


def test_job_page_shows_attempts_parameters_environment_and_log_lines(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    job_id = submit(batch, name="detailed", note="hello-dashboard")
    emulator.run_until_idle()
    emulator.flush()  # ship the job's output to CloudWatch Logs now
    status, _, body = get(server, f"{UI}/jobs/{job_id}")
    assert status == 200
    assert '<h1 id="job-name">detailed</h1>' in body
    assert "<code>note</code>" in body and "<code>hello-dashboard</code>" in body
    assert "<code>BATCHEMU_SIMULATE_SECONDS</code>" in body
    assert "simulated: echo hello-dashboard" in body
    detail = json.loads(get(server, f"{UI}/api/jobs/{job_id}")[2])
    assert [attempt["exitCode"] for attempt in detail["job"]["attempts"]] == [0]
    assert [line["message"] for line in detail["logs"]] == ["simulated: echo hello-dashboard"]
    assert detail["logError"] is None


def test_user_strings_are_escaped_in_pages(
    server: ServerThread,
    emulator: Emulator,
    batch,
    queue,  # type: ignore[no-untyped-def]
) -> None:
    job_id = submit(batch, note=SCRIPT)
    emulator.run_until_idle()
    emulator.flush()
    for path in (UI, f"{UI}/jobs/{job_id}"):
        _, _, body = get(server, path)
        assert "<script>alert" not in body
    _, _, body = get(server, f"{UI}/jobs/{job_id}")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body


def test_an_unknown_job_id_in_the_path_is_escaped_on_its_404_page(
    server: ServerThread, emulator: Emulator
) -> None:
    status, _, body = get(server, f"{UI}/jobs/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert status == 404
    assert "<script>alert" not in body and "&lt;script&gt;" in body


def test_unknown_job_is_404_as_page_and_json(server: ServerThread, emulator: Emulator) -> None:
    assert get(server, f"{UI}/jobs/no-such-job")[0] == 404
    status, _, body = get(server, f"{UI}/api/jobs/no-such-job")
    assert status == 404 and json.loads(body)["message"] == "No job no-such-job"


def test_unknown_dashboard_path_is_404(server: ServerThread, emulator: Emulator) -> None:
    assert get(server, f"{UI}/nowhere")[0] == 404


def test_pages_forbid_inline_scripts(server: ServerThread, emulator: Emulator) -> None:
    _, headers, _ = get(server, UI)
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_script_and_stylesheet_are_served(server: ServerThread, emulator: Emulator) -> None:
    status, headers, body = get(server, f"{UI}/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "textContent" in body
    assert get(server, f"{UI}/static/app.css")[0] == 200


def test_the_dashboard_is_read_only(server: ServerThread, emulator: Emulator) -> None:
    request = urllib.request.Request(server.endpoint + UI, method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 405

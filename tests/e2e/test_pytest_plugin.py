"""The pytest plugin as a user meets it: small test files run by pytester, with the plugin loaded from its
pytest11 entry point, against an in-process server or a ServerThread given by --batchemu-endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.testing import BatchemuHandle

pytest_plugins = ["pytester"]

SETUP = """
import threading

import pytest

def create_queue(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
        "type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
        "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"})
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])

def submit(batch, seconds=0, exit_code=0):
    batch.register_job_definition(jobDefinitionName="work", type="container", containerProperties={
        "image": "busybox", "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        "environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
                        {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)}]})
    return batch.submit_job(jobName="job", jobQueue="q", jobDefinition="work")["jobId"]

def queues(batch):
    return [queue["jobQueueName"] for queue in batch.describe_job_queues()["jobQueues"]]
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=SETUP + body)
    # Other installed plugins stay out: hypothesis's re-imports hypothesis in every inline run (seconds).
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    return pytester.runpytest(*quiet, "--strict-markers", *args)


@pytest.fixture(scope="module", autouse=True)
def services_loaded_once() -> None:
    """pytester's inline runs forget the modules they import. The emulator's first compute environment
    and first job load moto's ECS and CloudWatch Logs (seconds); doing that once here keeps every inline
    run fast."""
    namespace: dict[str, Any] = {}
    exec(SETUP, namespace)
    with ServerThread(Emulator.for_tests()) as running:
        batch = BatchemuHandle(running.endpoint).client()
        namespace["create_queue"](batch)
        namespace["submit"](batch)
        running.emulator.run_until_idle()
        running.emulator.flush()


@pytest.fixture
def sidecar() -> Iterator[ServerThread]:
    """A server as a sidecar would be: its own emulator on a fake clock, reached only over HTTP."""
    with ServerThread(Emulator.for_tests()) as running:
        yield running


def test_batch_client_reaches_an_in_process_server_on_loopback(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(batch_client, batchemu_endpoint):
    assert batchemu_endpoint.startswith("http://127.0.0.1:")
    assert batch_client.meta.endpoint_url == batchemu_endpoint
    assert batch_client.meta.region_name == "us-east-1"
    create_queue(batch_client)
    assert queues(batch_client) == ["q"]
""",
    )
    result.assert_outcomes(passed=1)


def test_state_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_first(batch_client):
    create_queue(batch_client)

def test_second(batch_client):
    assert queues(batch_client) == []
""",
    )
    result.assert_outcomes(passed=2)


def test_keep_state_marker_keeps_the_previous_tests_state(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_first(batch_client):
    create_queue(batch_client)

@pytest.mark.batchemu_keep_state
def test_second(batch_client):
    assert queues(batch_client) == ["q"]
""",
    )
    result.assert_outcomes(passed=2)


def test_in_process_server_is_on_a_fake_clock_by_default(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(batchemu):
    assert batchemu.clock_is_fake and not batchemu.is_remote
    assert batchemu.health()["runner"] == "simulated"
""",
    )
    result.assert_outcomes(passed=1)


def test_advance_moves_the_fake_clock_past_a_jobs_duration(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(batch_client, batchemu):
    create_queue(batch_client)
    job_id = submit(batch_client, seconds=600)
    batchemu.settle()
    assert batchemu.status(job_id) == "RUNNING"
    batchemu.advance(599)
    assert batchemu.status(job_id) == "RUNNING"
    batchemu.advance(1)
    assert batchemu.status(job_id) == "SUCCEEDED"
""",
    )
    result.assert_outcomes(passed=1)


def test_wait_for_status_steps_the_fake_clock_instead_of_sleeping(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import time

def test_it(batch_client, batchemu, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: pytest.fail("slept"))
    create_queue(batch_client)
    job_id = submit(batch_client, seconds=3600)
    started = batchemu.emulator.clock.now()
    history = batchemu.wait_for_status(job_id, "SUCCEEDED", timeout=7200)
    assert [entry["status"] for entry in history][-2:] == ["RUNNING", "SUCCEEDED"]
    assert 3600 <= batchemu.emulator.clock.now() - started <= 3601
""",
    )
    result.assert_outcomes(passed=1)


def test_wait_for_status_raises_when_the_job_ends_otherwise(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
from batchemu.testing import JobStatusError

def test_it(batch_client, batchemu):
    create_queue(batch_client)
    job_id = submit(batch_client, exit_code=3)
    with pytest.raises(JobStatusError, match="ended FAILED"):
        batchemu.wait_for_status(job_id, "SUCCEEDED")
""",
    )
    result.assert_outcomes(passed=1)


def test_wait_for_status_times_out_in_clock_seconds(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(batch_client, batchemu):
    create_queue(batch_client)
    job_id = submit(batch_client, seconds=3600)
    with pytest.raises(TimeoutError, match="still RUNNING after 60 clock seconds"):
        batchemu.wait_for_status(job_id, "SUCCEEDED", timeout=60)
""",
    )
    result.assert_outcomes(passed=1)


def test_history_lists_the_jobs_statuses_in_order(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(batch_client, batchemu):
    create_queue(batch_client)
    job_id = submit(batch_client)
    batchemu.settle()
    statuses = [entry["status"] for entry in batchemu.history(job_id)]
    assert statuses == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    # plain strings, as the admin route gives them to a remote handle (not the StrEnum kept in memory)
    assert {type(status) for status in statuses} == {str}
""",
    )
    result.assert_outcomes(passed=1)


def test_no_server_starts_unless_a_fixture_is_used(pytester: pytest.Pytester) -> None:
    # In a fresh process: this process may already run the suite's own emulator threads.
    pytester.makepyfile(
        test_user="""
import sys
import threading

def test_it():
    assert [t.name for t in threading.enumerate() if t.name.startswith("batchemu")] == []
    assert "batchemu.server" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)


def test_p_no_batchemu_disables_the_plugin(pytester: pytest.Pytester) -> None:
    result = run(pytester, "def test_it(batch_client):\n    pass\n", "-p", "no:batchemu")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'batch_client' not found*"])


def test_batchemu_endpoint_option_uses_a_running_server(
    pytester: pytest.Pytester, sidecar: ServerThread
) -> None:
    result = run(
        pytester,
        f"""
def test_it(batch_client, batchemu, batchemu_endpoint):
    assert batchemu_endpoint == "{sidecar.endpoint}" and batchemu.is_remote
    create_queue(batch_client)
    assert queues(batch_client) == ["q"]
""",
        "--batchemu-endpoint",
        sidecar.endpoint,
    )
    result.assert_outcomes(passed=1)
    assert [
        queue.name
        for queue in sidecar.emulator.store.backend("123456789012", "us-east-1").job_queues.values()
    ] == ["q"]


def test_batchemu_endpoint_variable_uses_a_running_server(
    pytester: pytest.Pytester, sidecar: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHEMU_ENDPOINT", sidecar.endpoint)
    result = run(
        pytester, f'def test_it(batchemu_endpoint):\n    assert batchemu_endpoint == "{sidecar.endpoint}"\n'
    )
    result.assert_outcomes(passed=1)


def test_remote_handle_resets_advances_and_waits_through_the_admin_api(
    pytester: pytest.Pytester, sidecar: ServerThread
) -> None:
    result = run(
        pytester,
        """
def test_first(batch_client):
    create_queue(batch_client)

def test_second(batch_client, batchemu):
    assert queues(batch_client) == []
    create_queue(batch_client)
    job_id = submit(batch_client, seconds=30)
    batchemu.wait_for_status(job_id, "RUNNING", timeout=30)
    batchemu.advance(30)
    history = batchemu.wait_for_status(job_id, "SUCCEEDED", timeout=30)
    assert history[-1]["status"] == "SUCCEEDED"
""",
        "--batchemu-endpoint",
        sidecar.endpoint,
    )
    result.assert_outcomes(passed=2)


def test_unreachable_endpoint_is_a_clear_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "def test_it(batchemu):\n    pass\n", "--batchemu-endpoint", "http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--batchemu-endpoint http://127.0.0.1:9: no batchemu answers*"])


def test_ini_runner_option_chooses_the_in_process_runner(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbatchemu_runner = process\n")
    result = run(
        pytester,
        """
def test_it(batchemu):
    assert batchemu.health()["runner"] == "process"
    assert not batchemu.clock_is_fake
""",
    )
    result.assert_outcomes(passed=1)


def test_the_fake_clock_steps_an_hour_long_wait_state_and_a_nightly_cron_rule(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import datetime, json, time

def test_it(batch_client, batchemu):
    create_queue(batch_client)
    submit(batch_client)
    sfn, events = batchemu.client("stepfunctions"), batchemu.client("events")
    definition = {"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Run"},
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
                "Parameters": {"JobName": "after-nap", "JobQueue": "q", "JobDefinition": "work"}}}}
    machine = sfn.create_state_machine(name="nap", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    queue = batch_client.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["jobQueueArn"]
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "q", "Arn": queue, "RoleArn": "arn:aws:iam::123456789012:role/r",
                                                 "BatchParameters": {"JobDefinition": "work", "JobName": "nightly"}}])
    while not any(e["type"] == "WaitStateEntered" for e in sfn.get_execution_history(executionArn=execution)["events"]):
        time.sleep(0.01)  # the execution runs on its own thread; the wait is not armed before it enters
    time.sleep(0.1)
    started = time.monotonic()
    batchemu.advance(24 * 3600)   # a day of clock time: the hour's wait and one 03:00
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        batchemu.settle()
        time.sleep(0.01)
    batchemu.settle()
    names = [j["jobName"] for j in batch_client.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"]]
    assert sorted(names) == ["after-nap", "job", "nightly"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5
    events.remove_targets(Rule="nightly", Ids=["q"])
    events.delete_rule(Name="nightly")
""",
    )
    result.assert_outcomes(passed=1)

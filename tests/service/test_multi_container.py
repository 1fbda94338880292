"""Multi-container (ecsProperties) jobs through boto3 on the simulated runner and a fake clock: every
container runs, the task ends with its essential containers, dependsOn orders the starts, overrides apply
by name, DescribeJobs shows each container's result and log stream, and capacity counts every container."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator
from tests.helpers import describe, error_of, make_client, provision


def task_container(
    name: str,
    seconds: float,
    exit_code: int = 0,
    vcpus: int = 1,
    memory: int = 512,
    **extra: Any,
) -> dict[str, Any]:
    """A container of the task that the simulated runner runs for `seconds` and ends with `exit_code`."""
    return {
        "name": name,
        "image": "busybox",
        "command": ["echo", name],
        "resourceRequirements": [
            {"type": "VCPU", "value": str(vcpus)},
            {"type": "MEMORY", "value": str(memory)},
        ],
        "environment": [
            {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
            {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)},
        ],
        **extra,
    }


def register(batch: Any, *containers: dict[str, Any], name: str = "task") -> None:
    batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        ecsProperties={"taskProperties": [{"containers": list(containers)}]},
    )


@pytest.fixture
def queue(batch: Any, emulator: Emulator) -> str:
    arn = provision(batch, max_vcpus=4)
    emulator.run_until_idle()
    return arn


def submit(batch: Any, **extra: Any) -> str:
    job_id: str = batch.submit_job(jobName="job", jobQueue="q", jobDefinition="task", **extra)["jobId"]
    return job_id


def run(emulator: Emulator, seconds: float) -> None:
    emulator.run_until_idle()
    emulator.advance(seconds)
    emulator.run_until_idle()


def containers_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [task] = job["ecsProperties"]["taskProperties"]
    return {container["name"]: container for container in task["containers"]}


def test_every_container_runs_and_the_task_ends_with_its_essential_one(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(batch, task_container("main", 2), task_container("side", 100, essential=False))
    job_id = submit(batch)
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING"
    assert "container" not in job or not job["container"]
    run(emulator, 2)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("SUCCEEDED", "Essential container in task exited")
    found = containers_of(job)
    assert (found["main"]["exitCode"], found["side"]["exitCode"]) == (0, 137)  # the sidecar was stopped
    [task] = job["ecsProperties"]["taskProperties"]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    assert found["main"]["logStreamName"] == f"task/main/{task_id}"
    assert found["side"]["logStreamName"] == f"task/side/{task_id}"
    [attempt] = job["attempts"]
    assert "container" not in attempt or not attempt["container"]
    [attempt_task] = attempt["taskProperties"]
    assert attempt_task["taskArn"] == task["taskArn"]
    assert [(c["name"], c["exitCode"]) for c in attempt_task["containers"]] == [("main", 0), ("side", 137)]


def test_each_container_writes_its_own_log_stream(
    batch: Any, emulator: Emulator, server: Any, queue: str
) -> None:
    register(batch, task_container("main", 1), task_container("side", 1, essential=False))
    job_id = submit(batch)
    run(emulator, 1)
    emulator.flush()
    logs = make_client(server.endpoint, service="logs")
    for name, container in containers_of(describe(batch, job_id)).items():
        events = logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=container["logStreamName"], startFromHead=True
        )["events"]
        assert [event["message"] for event in events] == [f"simulated: echo {name}"]


def test_a_failing_essential_container_fails_the_job(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 1, exit_code=3), task_container("side", 100, essential=False))
    job_id = submit(batch)
    run(emulator, 1)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Essential container in task exited")
    assert containers_of(job)["main"]["exitCode"] == 3


def test_a_failing_sidecar_does_not_stop_the_task(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 5), task_container("side", 1, exit_code=1, essential=False))
    job_id = submit(batch)
    run(emulator, 1)
    assert describe(batch, job_id)["status"] == "RUNNING"
    run(emulator, 4)
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert {n: c["exitCode"] for n, c in containers_of(job).items()} == {"main": 0, "side": 1}


def test_depends_on_success_starts_the_main_container_after_its_setup_exits(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    setup = task_container("setup", 5, essential=False)
    main = task_container("main", 3, dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}])
    register(batch, main, setup)
    job_id = submit(batch)
    run(emulator, 5)
    assert describe(batch, job_id)["status"] == "RUNNING"  # main started only now
    run(emulator, 2.9)
    assert describe(batch, job_id)["status"] == "RUNNING"
    run(emulator, 0.1)
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["stoppedAt"] - job["startedAt"] == 8000


def test_a_failed_success_dependency_never_starts_the_container_and_fails_the_job(
    batch: Any, emulator: Emulator, server: Any, queue: str
) -> None:
    setup = task_container("setup", 1, exit_code=2, essential=False)
    main = task_container("main", 3, dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}])
    register(batch, main, setup)
    job_id = submit(batch)
    run(emulator, 1)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    main_result = containers_of(job)["main"]
    assert "exitCode" not in main_result
    assert main_result["reason"] == "Dependency setup did not exit successfully"
    assert "logStreamName" not in main_result  # it never ran, so it has no stream
    emulator.flush()
    logs = make_client(server.endpoint, service="logs")
    streams = logs.describe_log_streams(logGroupName="/aws/batch/job")["logStreams"]
    names = {stream["logStreamName"] for stream in streams}
    setup_stream = containers_of(job)["setup"]["logStreamName"]
    assert setup_stream in names
    assert setup_stream.replace("/setup/", "/main/") not in names


def test_an_override_by_name_changes_one_containers_command_and_environment(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    register(batch, task_container("main", 1), task_container("side", 100, essential=False))
    override = {
        "name": "main",
        "command": ["echo", "changed"],
        "environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "4"}],
    }
    job_id = submit(batch, ecsPropertiesOverride={"taskProperties": [{"containers": [override]}]})
    run(emulator, 1)
    job = describe(batch, job_id)
    found = containers_of(job)
    assert found["main"]["command"] == ["echo", "changed"]
    assert found["side"]["command"] == ["echo", "side"]
    assert {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "4"} in found["main"]["environment"]
    assert (job["status"], found["main"]["exitCode"]) == ("FAILED", 4)


def test_an_override_naming_no_container_is_refused(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 1))
    with pytest.raises(ClientError) as raised:
        submit(batch, ecsPropertiesOverride={"taskProperties": [{"containers": [{"name": "nope"}]}]})
    assert error_of(raised)[0] == "ClientException"


def test_capacity_counts_the_sum_of_the_containers(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 100, vcpus=2), task_container("side", 100, essential=False))
    first, second = submit(batch), submit(batch)
    emulator.run_until_idle()
    assert describe(batch, first)["status"] == "RUNNING"
    assert describe(batch, second)["status"] == "RUNNABLE"  # 3 of the CE's 4 vCPUs are held
    usage = batch.list_jobs(jobQueue="q", jobStatus="RUNNING")["jobSummaryList"][0]["capacityUsage"]
    assert usage == [{"capacityUnit": "VCPU", "quantity": 3.0}]


def test_a_retried_task_records_each_attempts_containers(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 1, exit_code=1))
    job_id = submit(batch, retryStrategy={"attempts": 2})
    run(emulator, 1)
    run(emulator, 1)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert [a["taskProperties"][0]["containers"][0]["exitCode"] for a in job["attempts"]] == [1, 1]
    arns = {a["taskProperties"][0]["taskArn"] for a in job["attempts"]}
    assert len(arns) == 2


@pytest.mark.parametrize("condition", ["COMPLETE", "SUCCESS"])
def test_complete_or_success_on_an_essential_container_is_refused_with_ecs_text(
    batch: Any, condition: str
) -> None:
    main = task_container("main", 1, dependsOn=[{"containerName": "side", "condition": condition}])
    with pytest.raises(ClientError) as raised:
        register(batch, main, task_container("side", 1))
    code, message = error_of(raised)
    assert code == "ClientException"
    assert "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container" in (
        message
    )


def test_start_on_an_essential_container_is_accepted(batch: Any) -> None:
    main = task_container("main", 1, dependsOn=[{"containerName": "side", "condition": "START"}])
    register(batch, main, task_container("side", 1))


def test_depends_on_start_waits_for_the_other_container_to_start(
    batch: Any, emulator: Emulator, queue: str
) -> None:
    main = task_container("main", 2, dependsOn=[{"containerName": "proxy", "condition": "START"}])
    register(batch, main, task_container("proxy", 100, essential=False))
    job_id = submit(batch)
    run(emulator, 2)
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert {n: c["exitCode"] for n, c in containers_of(job).items()} == {"main": 0, "proxy": 137}


def test_an_array_of_tasks_runs_every_childs_containers(batch: Any, emulator: Emulator, queue: str) -> None:
    register(batch, task_container("main", 1), task_container("side", 1, essential=False))
    parent = submit(batch, arrayProperties={"size": 2})
    run(emulator, 1)
    run(emulator, 1)
    assert describe(batch, parent)["status"] == "SUCCEEDED"
    for index in range(2):
        child = describe(batch, f"{parent}:{index}")
        assert {n: c["exitCode"] for n, c in containers_of(child).items()} == {"main": 0, "side": 0}

"""What AWS accepts although botocore's model or a strict reading says otherwise, through boto3: empty tag
maps, enum values in another case, CancelJob/TerminateJob of unknown ids, typed dependencies on plain jobs,
privileged containers and host paths (run confined), CancelJob of a PENDING job after its dependencies."""

from __future__ import annotations

from typing import Any

import pytest

from batchemu import Emulator
from tests.helpers import COMPUTE_RESOURCES, CONTAINER, container, describe, provision

UNKNOWN_JOB = "00000000-0000-0000-0000-000000000000"
LONG = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}


@pytest.fixture
def queue(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    provision(batch, max_vcpus=2, definition="work", parameters={"greeting": "hi"})
    emulator.run_until_idle()
    return "q"


def submit(batch: Any, **kwargs: Any) -> str:
    return str(
        batch.submit_job(**{"jobName": "job", "jobQueue": "q", "jobDefinition": "work", **kwargs})["jobId"]
    )


def test_every_create_call_accepts_an_empty_tags_map(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    """Airflow's operators and snakemake's executor send `tags={}` by default; AWS accepts it."""
    batch.create_compute_environment(
        computeEnvironmentName="ce", type="MANAGED", computeResources=COMPUTE_RESOURCES, tags={}
    )
    emulator.run_until_idle()
    batch.create_job_queue(
        jobQueueName="q",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
        tags={},
    )
    batch.create_scheduling_policy(name="p", tags={})
    batch.register_job_definition(
        jobDefinitionName="work", type="container", containerProperties=CONTAINER, tags={}
    )
    emulator.run_until_idle()
    job_id = submit(batch, tags={}, parameters={"greeting": "hi"}, dependsOn=[])
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "SUCCEEDED"


def test_enum_values_are_accepted_in_any_case(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    batch.create_compute_environment(
        computeEnvironmentName="ce", type="managed", computeResources={**COMPUTE_RESOURCES, "type": "ec2"}
    )
    emulator.run_until_idle()
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.register_job_definition(jobDefinitionName="work", type="CONTAINER", containerProperties=CONTAINER)
    [environment] = batch.describe_compute_environments()["computeEnvironments"]
    assert (environment["type"], environment["computeResources"]["type"]) == ("MANAGED", "EC2")
    job_id = submit(batch, parameters={"greeting": "hi"})
    emulator.run_until_idle()
    assert [
        job["jobId"] for job in batch.list_jobs(jobQueue="q", jobStatus="succeeded")["jobSummaryList"]
    ] == [job_id]


@pytest.mark.parametrize("action", ["exit", "Exit", "EXIT"])
def test_evaluate_on_exit_action_acts_in_any_case(batch, emulator: Emulator, queue: str, action: str) -> None:  # type: ignore[no-untyped-def]
    strategy = {"attempts": 3, "evaluateOnExit": [{"onExitCode": "3", "action": action}]}
    failing = {
        "command": ["sh", "-c", "exit 3"],
        "environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "3"}],
    }
    job_id = submit(batch, retryStrategy=strategy, containerOverrides=failing)
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert (job["status"], len(job["attempts"])) == ("FAILED", 1)  # EXIT: no retry although attempts remain


def test_lower_case_retry_action_retries(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    strategy = {
        "attempts": 2,
        "evaluateOnExit": [{"onExitCode": "3", "action": "retry"}, {"onExitCode": "*", "action": "exit"}],
    }
    failing = {"environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "3"}]}
    job_id = submit(batch, retryStrategy=strategy, containerOverrides=failing)
    emulator.run_until_idle()
    assert len(describe(batch, job_id)["attempts"]) == 2


@pytest.mark.parametrize("operation", ["cancel_job", "terminate_job"])
def test_stopping_an_unknown_job_answers_200_with_an_empty_body(batch, queue: str, operation: str) -> None:  # type: ignore[no-untyped-def]
    """Real AWS answers 200 {} (aws/aws-cli#2551)."""
    response = getattr(batch, operation)(jobId=UNKNOWN_JOB, reason="r")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert {key: value for key, value in response.items() if key != "ResponseMetadata"} == {}


@pytest.mark.parametrize("operation", ["cancel_job", "terminate_job"])
@pytest.mark.parametrize(("job_id", "reason", "field"), [("", "r", "jobId"), (UNKNOWN_JOB, "", "reason")])
def test_stopping_with_an_empty_job_id_or_reason_is_refused(  # type: ignore[no-untyped-def]
    batch, queue: str, operation: str, job_id: str, reason: str, field: str
) -> None:
    """Not leniency: AWS refuses empty strings here (observed in getmoto/moto#5394)."""
    with pytest.raises(batch.exceptions.ClientException, match=f"'{field}' is a required field"):
        getattr(batch, operation)(jobId=job_id, reason=reason)


def test_an_empty_reason_leaves_a_queued_job_queued(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = submit(batch, containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "8"}]})
    emulator.run_until_idle()
    with pytest.raises(batch.exceptions.ClientException):
        batch.cancel_job(jobId=job_id, reason="")
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "RUNNABLE"


def test_a_sequential_dependency_with_a_job_id_on_a_plain_job_is_a_plain_dependency(
    batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    first = submit(batch, containerOverrides=LONG)
    emulator.run_until_idle()
    second = submit(batch, dependsOn=[{"jobId": first, "type": "SEQUENTIAL"}])
    emulator.run_until_idle()
    job = describe(batch, second)
    assert job["status"] == "PENDING"
    assert job["dependsOn"] == [{"jobId": first, "type": "SEQUENTIAL"}]
    emulator.advance(101)
    emulator.run_until_idle()
    assert (describe(batch, first)["status"], describe(batch, second)["status"]) == ("SUCCEEDED", "SUCCEEDED")


def test_an_n_to_n_dependency_on_a_plain_job_is_a_plain_dependency(
    batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    first = submit(batch)
    second = submit(batch, dependsOn=[{"jobId": first, "type": "N_TO_N"}])
    emulator.run_until_idle()
    assert describe(batch, second)["status"] == "SUCCEEDED"


def test_cancel_of_a_pending_job_takes_effect_once_its_dependencies_complete(
    batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    """API reference, CancelJob: jobs in PENDING are cancelled after all dependencies complete."""
    first = submit(batch, containerOverrides=LONG)
    emulator.run_until_idle()
    second = submit(batch, dependsOn=[{"jobId": first}])
    emulator.run_until_idle()
    batch.cancel_job(jobId=second, reason="no longer needed")
    emulator.run_until_idle()
    assert describe(batch, second)["status"] == "PENDING"
    emulator.advance(101)
    emulator.run_until_idle()
    job = describe(batch, second)
    assert (job["status"], job["statusReason"], job["isCancelled"]) == ("FAILED", "no longer needed", True)
    assert job.get("attempts") == []


def test_terminate_of_a_pending_job_fails_it_at_once(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    first = submit(batch, containerOverrides=LONG)
    emulator.run_until_idle()
    second = submit(batch, dependsOn=[{"jobId": first}])
    emulator.run_until_idle()
    batch.terminate_job(jobId=second, reason="stop")
    assert describe(batch, second)["status"] == "FAILED"


def test_a_privileged_job_is_accepted_and_runs_unprivileged_with_a_warning_in_its_history(
    batch, emulator: Emulator, queue: str
) -> None:  # type: ignore[no-untyped-def]
    """AWS runs privileged containers on EC2 (snakemake's executor asks for one); this server was not
    started with --allow-privileged, so the job runs unprivileged and says so."""
    batch.register_job_definition(
        jobDefinitionName="root", type="container", containerProperties={**CONTAINER, "privileged": True}
    )
    job_id = submit(batch, jobDefinition="root")
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["container"]["privileged"] is True  # described as asked for
    with emulator.store.lock:
        history = next(b.jobs[job_id].history for b in emulator.store.backends() if job_id in b.jobs)
    warnings = [reason for _, _, reason in history if reason and reason.startswith("batchemu:")]
    assert len(warnings) == 1 and "--allow-privileged" in warnings[0]


def test_a_host_path_volume_is_accepted(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    properties = container(
        ["ls", "/data"],
        volumes=[{"name": "data", "host": {"sourcePath": "/etc"}}],
        mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}],
    )
    batch.register_job_definition(
        jobDefinitionName="mounts", type="container", containerProperties=properties
    )
    job_id = submit(batch, jobDefinition="mounts")
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "SUCCEEDED"


def test_fargate_still_refuses_privileged(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    properties = {
        **container(["true"], vcpus=1, memory=2048),
        "privileged": True,
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    }
    with pytest.raises(batch.exceptions.ClientException, match="privileged is not applicable for Fargate"):
        batch.register_job_definition(
            jobDefinitionName="fg",
            type="container",
            platformCapabilities=["FARGATE"],
            containerProperties=properties,
        )

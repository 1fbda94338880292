"""Jobs through boto3 against the in-process server: submit, describe, list, cancel, terminate."""

from __future__ import annotations

import pytest

from batchemu import Emulator
from tests.helpers import CONTAINER, describe, provision


@pytest.fixture
def queue(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    provision(batch, max_vcpus=2, definition="work", parameters={"greeting": "hi"})
    emulator.run_until_idle()
    return "q"


def submit(batch, **kwargs):  # type: ignore[no-untyped-def]
    return batch.submit_job(**{"jobName": "job", "jobQueue": "q", "jobDefinition": "work", **kwargs})["jobId"]


def test_submitted_job_reaches_succeeded_with_ordered_times(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    job_id = submit(batch)
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["createdAt"] <= job["startedAt"] <= job["stoppedAt"]
    assert job["statusReason"] == "Essential container in task exited"
    assert job["container"]["exitCode"] == 0
    assert job["attempts"][0]["container"]["logStreamName"].startswith("work/default/")


def test_submit_returns_arn_name_and_uuid_id(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    response = batch.submit_job(jobName="named", jobQueue="q", jobDefinition="work")
    assert response["jobName"] == "named"
    assert response["jobArn"] == f"arn:aws:batch:us-east-1:123456789012:job/{response['jobId']}"
    assert len(response["jobId"]) == 36


def test_new_job_is_submitted_without_started_at(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    job = describe(batch, submit(batch))
    assert job["status"] in ("SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
    job_definition = job["jobDefinition"]
    assert job_definition == "arn:aws:batch:us-east-1:123456789012:job-definition/work:1"
    assert job["jobQueue"] == "arn:aws:batch:us-east-1:123456789012:job-queue/q"


def test_ref_parameters_are_substituted_in_the_command(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    job = describe(batch, submit(batch, parameters={"greeting": "hello"}))
    assert job["container"]["command"] == ["echo", "hello"]
    assert job["parameters"] == {"greeting": "hello"}


def test_container_overrides_replace_command_and_merge_environment(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {"command": ["sh", "-c", "exit 0"], "environment": [{"name": "A", "value": "1"}]}
    job = describe(batch, submit(batch, containerOverrides=overrides))
    assert job["container"]["command"] == ["sh", "-c", "exit 0"]
    assert {"name": "A", "value": "1"} in job["container"]["environment"]


def test_reserved_environment_names_are_dropped(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {"environment": [{"name": "AWS_BATCH_JOB_ID", "value": "x"}]}
    job = describe(batch, submit(batch, containerOverrides=overrides))
    assert all(entry["name"] != "AWS_BATCH_JOB_ID" for entry in job["container"]["environment"])


def test_simulated_exit_code_fails_the_job(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {"environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "2"}]}
    job_id = submit(batch, containerOverrides=overrides)
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == 2


def test_unknown_queue_is_refused_with_aws_message(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="JobQueue nope not found."):
        submit(batch, jobQueue="nope")


def test_unknown_job_definition_is_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="JobDefinition name nope does not exist"):
        submit(batch, jobDefinition="nope")


def test_malformed_job_definition_reference_is_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="is not supported pattern"):
        submit(batch, jobDefinition="work:latest")


def test_bad_job_name_is_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        batch.exceptions.ClientException, match="Job name should match valid pattern, RequestId: "
    ):
        submit(batch, jobName="-bad name")


def test_disabled_queue_refuses_submissions(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    emulator.run_until_idle()
    with pytest.raises(batch.exceptions.ClientException, match="not in ENABLED state"):
        submit(batch)


def test_empty_command_strings_are_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="Command field cannot have empty strings"):
        submit(batch, containerOverrides={"command": ["echo", ""]})


def test_describe_more_than_100_jobs_is_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="Maximum number of jobs supported is  100 ."):
        batch.describe_jobs(jobs=[f"id-{i}" for i in range(101)])


def test_describe_leaves_out_unknown_ids_in_input_order(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    first, second = submit(batch, jobName="a"), submit(batch, jobName="b")
    jobs = batch.describe_jobs(jobs=[second, "unknown", first])["jobs"]
    assert [job["jobId"] for job in jobs] == [second, first]


def test_list_jobs_defaults_to_running(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}
    running = submit(batch, jobName="runs", containerOverrides=long)
    emulator.run_until_idle()
    listed = batch.list_jobs(jobQueue="q")["jobSummaryList"]
    assert [job["jobId"] for job in listed] == [running]
    assert listed[0]["status"] == "RUNNING"


def test_list_jobs_by_status_newest_first_with_pagination(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for index in range(5):
        ids.append(submit(batch, jobName=f"j{index}"))
        emulator.advance(1)
    emulator.run_until_idle()
    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue="q", jobStatus="SUCCEEDED", PaginationConfig={"PageSize": 2}
    )
    seen = [job["jobId"] for page in pages for job in page["jobSummaryList"]]
    assert seen == list(reversed(ids))


def test_list_jobs_filter_by_name_prefix_ignores_status(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    wanted = submit(batch, jobName="Nightly-1")
    submit(batch, jobName="other")
    emulator.run_until_idle()
    listed = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["nightly*"]}])
    assert [job["jobId"] for job in listed["jobSummaryList"]] == [wanted]


def test_list_jobs_needs_exactly_one_scope(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="Exactly one of"):
        batch.list_jobs()


def test_cancel_fails_a_runnable_job(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    big = {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}
    job_id = submit(batch, containerOverrides=big)
    emulator.run_until_idle()
    batch.cancel_job(jobId=job_id, reason="not needed")
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "not needed"
    assert job["isCancelled"] is True


def test_cancel_leaves_a_running_job_alone(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}
    job_id = submit(batch, containerOverrides=long)
    emulator.run_until_idle()
    batch.cancel_job(jobId=job_id, reason="too late")
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "RUNNING"


def test_terminate_stops_a_running_job(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}
    job_id = submit(batch, containerOverrides=long)
    emulator.run_until_idle()
    batch.terminate_job(jobId=job_id, reason="stop")
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "stop", True)
    assert job["attempts"][0]["container"]["exitCode"] == 137


def test_array_job_children_and_status_summary(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    parent_id = submit(batch, arrayProperties={"size": 3})
    emulator.run_until_idle()
    parent = describe(batch, parent_id)
    assert parent["status"] == "SUCCEEDED"
    assert parent["arrayProperties"]["statusSummary"] == {
        "SUBMITTED": 0,
        "PENDING": 0,
        "RUNNABLE": 0,
        "STARTING": 0,
        "RUNNING": 0,
        "SUCCEEDED": 3,
        "FAILED": 0,
    }
    child = describe(batch, f"{parent_id}:1")
    assert child["arrayProperties"] == {"index": 1}
    children = batch.list_jobs(arrayJobId=parent_id, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted(job["arrayProperties"]["index"] for job in children) == [0, 1, 2]


def test_dependency_on_unknown_job_is_refused(batch, queue: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(batch.exceptions.ClientException, match="does not exist"):
        submit(batch, dependsOn=[{"jobId": "00000000-0000-0000-0000-000000000000"}])


def test_queue_snapshot_shows_runnable_jobs_in_order(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    big = {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}
    first = submit(batch, jobName="a", containerOverrides=big)
    emulator.advance(1)
    second = submit(batch, jobName="b", containerOverrides=big)
    emulator.run_until_idle()
    front = batch.get_job_queue_snapshot(jobQueue="q")["frontOfQueue"]["jobs"]
    assert [job["jobArn"].rsplit("/", 1)[-1] for job in front] == [first, second]


def test_jobs_of_a_deleted_queue_fail_with_job_queue_deleted(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    big = {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}
    job_id = submit(batch, containerOverrides=big)
    emulator.run_until_idle()
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    emulator.run_until_idle()
    batch.delete_job_queue(jobQueue="q")
    emulator.run_until_idle()
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "JobQueue deleted")
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"] == []


@pytest.mark.skipif(
    "CancelJobs" not in __import__("batchemu.protocol.spec", fromlist=["x"]).operation_names(),
    reason="botocore older than 1.44 has no bulk job operations",
)
def test_bulk_cancel_and_terminate_report_each_job(batch, emulator: Emulator, queue: str) -> None:  # type: ignore[no-untyped-def]
    long = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}
    running = submit(batch, jobName="running", containerOverrides=long)
    emulator.run_until_idle()
    big = {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}
    queued = submit(batch, jobName="queued", containerOverrides=big)
    emulator.run_until_idle()
    unknown = "00000000-0000-0000-0000-000000000000"
    answer = batch.cancel_jobs(jobs=[queued, running, unknown], reason="bulk")
    assert answer["successful"] == [queued, running, unknown] and answer["errors"] == []
    assert describe(batch, queued)["status"] == "FAILED"
    assert describe(batch, running)["status"] == "RUNNING"  # cancel leaves running jobs alone
    batch.terminate_jobs(jobs=[running], reason="bulk stop")
    emulator.run_until_idle()
    assert (describe(batch, running)["status"], describe(batch, running)["statusReason"]) == (
        "FAILED",
        "bulk stop",
    )
    with pytest.raises(batch.exceptions.ClientException, match="between 1 and 50"):
        batch.cancel_jobs(jobs=[f"id-{i}" for i in range(51)], reason="too many")


def test_queue_snapshot_of_a_fair_share_queue_alternates_between_shares(batch, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    batch.create_compute_environment(computeEnvironmentName="tiny", type="UNMANAGED", unmanagedvCpus=1)
    policy = batch.create_scheduling_policy(name="fair", fairsharePolicy={"shareDecaySeconds": 0})["arn"]
    batch.create_job_queue(
        jobQueueName="fs",
        priority=1,
        schedulingPolicyArn=policy,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "tiny"}],
    )
    batch.register_job_definition(
        jobDefinitionName="big",
        type="container",
        containerProperties={
            **CONTAINER,
            "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "64"}],
        },
    )
    emulator.run_until_idle()
    ids = {}
    for name, share in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")):
        ids[
            batch.submit_job(
                jobName=name,
                jobQueue="fs",
                jobDefinition="big",
                shareIdentifier=share,
                schedulingPriorityOverride=1,
            )["jobId"]
        ] = name
    emulator.run_until_idle()
    front = batch.get_job_queue_snapshot(jobQueue="fs")["frontOfQueue"]["jobs"]
    assert [ids[job["jobArn"].rsplit("/", 1)[-1]] for job in front] == ["a1", "b1", "a2", "a3"]

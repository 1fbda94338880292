"""Multi-node parallel jobs through boto3: nodes `<id>#<n>`, main node first, the parent follows it."""

from __future__ import annotations

import pytest

from batchemu import Emulator
from tests.helpers import container, provision

NODE_CONTAINER = container(["echo", "node"], memory=256)


@pytest.fixture
def mnp(batch, emulator: Emulator) -> str:  # type: ignore[no-untyped-def]
    provision(batch, max_vcpus=8)
    batch.register_job_definition(
        jobDefinitionName="mnp",
        type="multinode",
        nodeProperties={
            "numNodes": 3,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0:2", "container": NODE_CONTAINER},
                {"targetNodes": "0:0", "container": {**NODE_CONTAINER, "command": ["echo", "main"]}},
            ],
        },
    )
    emulator.run_until_idle()
    return "mnp"


def test_multi_node_job_runs_every_node_and_succeeds(batch, emulator: Emulator, mnp: str) -> None:  # type: ignore[no-untyped-def]
    main_runs_5s = {
        "nodePropertyOverrides": [
            {
                "targetNodes": "0:0",
                "containerOverrides": {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "5"}]},
            }
        ]
    }
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition=mnp, nodeOverrides=main_runs_5s)[
        "jobId"
    ]
    emulator.run_until_idle()
    emulator.advance(5)
    emulator.run_until_idle()
    parent = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert parent["status"] == "SUCCEEDED"
    assert parent["nodeProperties"]["numNodes"] == 3
    nodes = batch.list_jobs(multiNodeJobId=job_id, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted(node["jobId"] for node in nodes) == [f"{job_id}#{i}" for i in range(3)]
    main = batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]
    assert main["nodeDetails"] == {"nodeIndex": 0, "isMainNode": True}
    assert main["container"]["command"] == ["echo", "main"]
    env = {e["name"] for e in main["container"]["environment"]}
    assert "BATCHEMU_SIMULATE_SECONDS" in env
    other = batch.describe_jobs(jobs=[f"{job_id}#2"])["jobs"][0]
    assert other["container"]["command"] == ["echo", "node"]
    assert other["startedAt"] >= main["startedAt"]


def test_parent_fails_when_the_main_node_fails(batch, emulator: Emulator, mnp: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {
        "nodePropertyOverrides": [
            {
                "targetNodes": "0:0",
                "containerOverrides": {
                    "environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "4"}]
                },
            }
        ]
    }
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition=mnp, nodeOverrides=overrides)[
        "jobId"
    ]
    emulator.run_until_idle()
    parent = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert parent["status"] == "FAILED"


def test_node_override_targets_must_match_the_definition(batch, mnp: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {"nodePropertyOverrides": [{"targetNodes": "1:1", "containerOverrides": {"command": ["x"]}}]}
    with pytest.raises(batch.exceptions.ClientException, match="Non matching targets - 1:1"):
        batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition=mnp, nodeOverrides=overrides)


def test_other_nodes_wait_for_the_main_node_to_run(batch, emulator: Emulator, mnp: str) -> None:  # type: ignore[no-untyped-def]
    overrides = {
        "nodePropertyOverrides": [
            {
                "targetNodes": "0:0",
                "containerOverrides": {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "30"}]},
            }
        ]
    }
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition=mnp, nodeOverrides=overrides)[
        "jobId"
    ]
    emulator.run_until_idle()
    parent = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert parent["status"] == "RUNNING"
    node_statuses = {
        j["jobId"][-1]: j["status"]
        for j in batch.describe_jobs(jobs=[f"{job_id}#{i}" for i in range(3)])["jobs"]
    }
    assert node_statuses == {"0": "RUNNING", "1": "SUCCEEDED", "2": "SUCCEEDED"}
    emulator.advance(30)
    emulator.run_until_idle()
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"


def test_nodes_still_queued_when_the_main_node_exits_are_cancelled(
    batch, emulator: Emulator, mnp: str
) -> None:  # type: ignore[no-untyped-def]
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition=mnp)["jobId"]
    emulator.run_until_idle()
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"
    nodes = batch.describe_jobs(jobs=[f"{job_id}#{i}" for i in range(1, 3)])["jobs"]
    assert all(n["status"] in ("SUCCEEDED", "FAILED") for n in nodes)
    assert all(n["statusReason"] in ("Main node exited", "Essential container in task exited") for n in nodes)


def test_a_main_node_failure_retries_the_whole_job_by_its_retry_strategy(  # type: ignore[no-untyped-def]
    batch, emulator: Emulator, mnp: str
) -> None:
    def environment(seconds: int, exit_code: int) -> list[dict[str, str]]:
        return [
            {"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)},
            {"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": str(exit_code)},
        ]

    overrides = {
        "nodePropertyOverrides": [
            {"targetNodes": "0:0", "containerOverrides": {"environment": environment(5, 4)}},
            {"targetNodes": "0:2", "containerOverrides": {"environment": environment(100, 0)}},
        ]
    }
    job_id = batch.submit_job(
        jobName="mnp", jobQueue="q", jobDefinition=mnp, nodeOverrides=overrides, retryStrategy={"attempts": 2}
    )["jobId"]

    def status(node: str = "") -> tuple[str, int]:
        job = batch.describe_jobs(jobs=[job_id + node])["jobs"][0]
        return job["status"], len(job["attempts"])

    emulator.run_until_idle()
    assert [status(f"#{i}") for i in range(3)] == [("RUNNING", 0)] * 3
    emulator.advance(5)
    emulator.run_until_idle()
    # the main node failed once: every node ran again, each with its first attempt recorded
    assert status()[0] == "RUNNING"
    assert [status(f"#{i}") for i in range(3)] == [("RUNNING", 1)] * 3
    first = batch.describe_jobs(jobs=[f"{job_id}#1"])["jobs"][0]["attempts"][0]
    assert (first["container"]["exitCode"], first["statusReason"]) == (137, "Main node exited")
    emulator.advance(5)
    emulator.run_until_idle()
    assert status()[0] == "FAILED"  # no attempt left
    assert [status(f"#{i}") for i in range(3)] == [("FAILED", 2)] * 3


def test_without_a_retry_strategy_a_main_node_failure_fails_the_job_at_once(  # type: ignore[no-untyped-def]
    batch, emulator: Emulator, mnp: str
) -> None:
    overrides = {
        "nodePropertyOverrides": [
            {
                "targetNodes": "0:0",
                "containerOverrides": {
                    "environment": [{"name": "BATCHEMU_SIMULATE_EXIT_CODE", "value": "4"}]
                },
            }
        ]
    }
    job_id = batch.submit_job(
        jobName="mnp",
        jobQueue="q",
        jobDefinition=mnp,
        nodeOverrides=overrides,
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "4", "action": "EXIT"}]},
    )["jobId"]
    emulator.run_until_idle()
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "FAILED"
    assert len(batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]["attempts"]) == 1

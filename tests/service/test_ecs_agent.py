"""The ECS agent endpoints the emulator serves a job's attempt: task metadata v3/v4 and role credentials,
read over HTTP as a job would (the job side is tested on the process runner, tests/integration)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.domain import params
from tests.helpers import ACCOUNT, CONTAINER, REGION, describe, provision

LONG = {"environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]}


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def running(batch, emulator: Emulator, server: ServerThread) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    provision(
        batch, definition="work", properties={**CONTAINER, "jobRoleArn": "arn:aws:iam::123456789012:role/job"}
    )
    emulator.run_until_idle()
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="work", containerOverrides=LONG)[
        "jobId"
    ]
    emulator.run_until_idle()
    assert describe(batch, job_id)["status"] == "RUNNING"
    return job_id, server.endpoint + params.agent_path("123456789012", REGION, job_id, 1)


def test_credentials_come_in_the_container_provider_format_with_the_job_role(
    running: tuple[str, str], emulator: Emulator
) -> None:
    job_id, agent = running
    status, body = get(
        f"{agent}/credentials", params.agent_token(emulator.settings.internal_secret, job_id, 1)
    )
    assert status == 200
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}
    assert (body["AccessKeyId"], body["RoleArn"]) == (ACCOUNT, "arn:aws:iam::123456789012:role/job")
    assert body["Expiration"].endswith("Z")


def test_credentials_need_the_attempts_token(running: tuple[str, str]) -> None:
    _, agent = running
    assert get(f"{agent}/credentials", "wrong")[0] == 403
    assert get(f"{agent}/credentials")[0] == 403


def test_task_metadata_names_the_task_its_definition_and_its_log_stream(
    batch, running: tuple[str, str]
) -> None:  # type: ignore[no-untyped-def]
    job_id, agent = running
    attempt = describe(batch, job_id)["container"]
    status, task = get(f"{agent}/v4/task")
    assert status == 200
    assert (task["TaskARN"], task["Family"], task["Revision"]) == (attempt["taskArn"], "work", "1")
    assert task["AvailabilityZone"] == f"{REGION}a" and task["KnownStatus"] == "RUNNING"
    [container] = task["Containers"]
    assert container["LogOptions"] == {
        "awslogs-group": "/aws/batch/job",
        "awslogs-region": REGION,
        "awslogs-stream": attempt["logStreamName"],
    }
    assert get(f"{agent}/v3")[1]["Name"] == "default"


def test_an_unknown_attempt_is_a_404(running: tuple[str, str]) -> None:
    _, agent = running
    assert get(agent.rsplit("/", 1)[0] + "/7/v4")[0] == 404
    assert get(f"{agent}/v5")[0] == 404


def simulated(name: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"busybox-{name}",
        "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}],
        "environment": [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": str(seconds)}],
        **extra,
    }


def test_task_metadata_lists_every_container_of_a_multi_container_task_as_it_runs(
    batch, emulator: Emulator, server: ServerThread
) -> None:  # type: ignore[no-untyped-def]
    provision(batch)
    containers = [
        simulated("main", 100),
        simulated("side", 1, essential=False),
        simulated(
            "after", 100, essential=False, dependsOn=[{"containerName": "side", "condition": "COMPLETE"}]
        ),
    ]
    batch.register_job_definition(
        jobDefinitionName="task",
        type="container",
        ecsProperties={"taskProperties": [{"containers": containers}]},
    )
    emulator.run_until_idle()
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="task")["jobId"]
    emulator.run_until_idle()
    base = server.endpoint + params.agent_path(ACCOUNT, REGION, job_id, 1)
    _, task = get(f"{base}/v4/task")
    found = {container["Name"]: container for container in task["Containers"]}
    assert {name: c["KnownStatus"] for name, c in found.items()} == {
        "main": "RUNNING",
        "side": "RUNNING",
        "after": "PENDING",
    }
    assert len({c["DockerId"] for c in found.values()}) == 3
    assert found["side"]["Image"] == "busybox-side" and found["side"]["Limits"] == {
        "CPU": 1024,
        "Memory": 256,
    }
    streams = {
        c["name"]: c["logStreamName"]
        for c in describe(batch, job_id)["ecsProperties"]["taskProperties"][0]["containers"]
    }
    assert found["after"]["LogOptions"]["awslogs-stream"] == streams["after"]
    # each container has its own metadata URI, as on ECS
    side = {"name": "side"}
    _, own = get(server.endpoint + params.agent_path(ACCOUNT, REGION, job_id, 1, side) + "/v4")
    assert (own["Name"], own["DockerId"]) == ("side", found["side"]["DockerId"])
    assert (
        get(server.endpoint + params.agent_path(ACCOUNT, REGION, job_id, 1, {"name": "nope"}) + "/v4")[0]
        == 404
    )
    emulator.advance(1)
    emulator.run_until_idle()
    _, task = get(f"{base}/v4/task")
    found = {container["Name"]: container for container in task["Containers"]}
    assert (found["side"]["KnownStatus"], found["side"]["ExitCode"]) == ("STOPPED", 0)
    assert found["after"]["KnownStatus"] == "RUNNING" and "ExitCode" not in found["after"]


@pytest.mark.parametrize(
    ("propagate", "expected"), [(True, {"team": "job", "kept": "def", "own": "job"}), (None, {})]
)
def test_task_tags_are_the_propagated_ones(
    batch, emulator: Emulator, server: ServerThread, propagate: bool | None, expected: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    provision(batch, definition="work", properties=CONTAINER, tags={"team": "def", "kept": "def"})
    emulator.run_until_idle()
    extra = {} if propagate is None else {"propagateTags": propagate}
    job_id = batch.submit_job(
        jobName="j",
        jobQueue="q",
        jobDefinition="work",
        containerOverrides=LONG,
        tags={"team": "job", "own": "job"},
        **extra,
    )["jobId"]
    emulator.run_until_idle()
    _, task = get(server.endpoint + params.agent_path(ACCOUNT, REGION, job_id, 1) + "/v4/taskWithTags")
    assert task["TaskTags"] == expected

"""The capacity model through boto3 on a fake clock: instance types validated against the catalogue, jobs
placed on instances by vCPU, memory and GPU, desiredvCpus following the instances, idle instances scaling
in, and instances terminated on purpose (a Spot interruption) failing or retrying their jobs."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchemu import Emulator
from tests.helpers import container, describe, error_of


def environment(
    batch: Any, name: str, types: list[str], max_vcpus: int = 16, kind: str = "EC2", **extra: Any
) -> str:
    resources = {
        "type": kind,
        "minvCpus": 0,
        "maxvCpus": max_vcpus,
        "instanceTypes": types,
        "subnets": ["subnet-1"],
        "securityGroupIds": ["sg-1"],
        "instanceRole": "ecsInstanceRole",
        **extra,
    }
    if kind == "SPOT":
        resources["allocationStrategy"] = "SPOT_CAPACITY_OPTIMIZED"
    arn: str = batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", computeResources=resources
    )["computeEnvironmentArn"]
    return arn


def queue(batch: Any, name: str, ce: str, **extra: Any) -> str:
    arn: str = batch.create_job_queue(
        jobQueueName=name,
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
        **extra,
    )["jobQueueArn"]
    return arn


def submit(batch: Any, q: str, vcpus: int = 1, memory: int = 1024, gpus: int = 0, **extra: Any) -> str:
    properties = container(["true"], vcpus=vcpus, memory=memory)
    if gpus:
        properties["resourceRequirements"].append({"type": "GPU", "value": str(gpus)})
    properties["environment"] = [{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "100"}]
    name = f"jd-{vcpus}-{memory}-{gpus}"
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=properties)
    job_id: str = batch.submit_job(jobName="j", jobQueue=q, jobDefinition=name, **extra)["jobId"]
    return job_id


def test_an_unknown_instance_type_is_refused_with_aws_wording(batch: Any) -> None:
    with pytest.raises(ClientError) as raised:
        environment(batch, "ce", ["c5.huge"])
    code, message = error_of(raised)
    assert code == "ClientException"
    assert message.startswith("Error executing request, Exception : Instance type can only be one of [")
    assert "c5.large" in message and "optimal" in message and "g4dn" in message


@pytest.mark.parametrize(
    "types",
    [
        ["optimal"],
        ["default_x86_64"],
        ["default_arm64"],
        ["c5"],
        ["c5.xlarge", "m5"],
        ["g4dn", "p3"],
        ["t2.small", "t2.medium"],
        ["c8g", "m8g.large", "c8in.large"],  # c8in: in moto's records, newer than botocore's enum
    ],
)
def test_known_instance_types_families_and_aliases_are_accepted(batch: Any, types: list[str]) -> None:
    environment(batch, "ce", types)


@pytest.mark.parametrize(
    ("types", "fits", "too_big", "placed_on"),
    [
        (["t2.small"], (1, 1024, 0), (2, 1024, 0), "t2.small"),  # 1 vCPU, 2 GiB
        (["t2"], (1, 1024, 0), (1, 40000, 0), "t2.small"),  # t2.micro registers < 1024 MiB
        (["m8g.large"], (2, 7953, 0), (2, 8192, 0), "m8g.large"),  # 2 vCPUs, 8 GiB
        (["c8g.large"], (2, 2048, 0), (2, 4096, 0), "c8g.large"),  # 2 vCPUs, 4 GiB
        (["g6e.xlarge"], (4, 16384, 1), (1, 1024, 2), "g6e.xlarge"),  # 4 vCPUs, 32 GiB, one L40S
    ],
)
def test_types_from_the_ec2_catalogue_are_valid_and_place_jobs_by_their_real_sizes(
    batch: Any,
    emulator: Emulator,
    types: list[str],
    fits: tuple[int, int, int],
    too_big: tuple[int, int, int],
    placed_on: str,
) -> None:
    environment(batch, "ce", types)
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    [ce] = batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"]
    assert (ce["status"], ce["state"]) == ("VALID", "ENABLED")
    vcpus, memory, gpus = fits
    job = submit(batch, q, vcpus=vcpus, memory=memory, gpus=gpus)
    emulator.run_until_idle()
    assert describe(batch, job)["status"] == "RUNNING"
    assert [row["instanceType"] for row in emulator.instances()] == [placed_on]
    vcpus, memory, gpus = too_big
    big = submit(batch, q, vcpus=vcpus, memory=memory, gpus=gpus)
    emulator.run_until_idle()
    assert describe(batch, big)["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")


def test_a_ce_of_retired_types_without_a_known_size_is_valid_and_places_nothing(
    batch: Any, emulator: Emulator
) -> None:
    """A choice (docs/compatibility.md): botocore names g2, no library says how big it is."""
    environment(batch, "ce", ["g2"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    job = submit(batch, q)
    emulator.run_until_idle()
    assert describe(batch, job)["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    assert emulator.instances() == []


def test_updating_to_an_unknown_instance_type_is_refused(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5"], allocationStrategy="BEST_FIT_PROGRESSIVE")
    emulator.run_until_idle()
    with pytest.raises(ClientError) as raised:
        batch.update_compute_environment(computeEnvironment="ce", computeResources={"instanceTypes": ["zz9"]})
    assert "Instance type can only be one of" in error_of(raised)[1]


def test_a_16_gib_job_on_c5_large_stays_runnable_with_the_misconfiguration_reason(
    batch: Any, emulator: Emulator
) -> None:
    environment(batch, "ce", ["c5.large"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    big = submit(batch, q, vcpus=1, memory=16384)
    emulator.run_until_idle()
    job = describe(batch, big)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - ")


def test_memory_beyond_what_ecs_registers_does_not_fit_the_instance(batch: Any, emulator: Emulator) -> None:
    """An m4.large has 8192 MiB installed but registers 7953 (AWS's memory-management page)."""
    environment(batch, "ce", ["m4.large"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    exact = submit(batch, q, vcpus=1, memory=8192)
    fits = submit(batch, q, vcpus=1, memory=7953)
    emulator.run_until_idle()
    assert describe(batch, exact)["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    assert describe(batch, fits)["status"] == "RUNNABLE"  # blocked behind the head: FIFO


def test_a_never_fitting_job_is_cancelled_by_the_time_limit_action(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5.large"])
    action = {
        "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "state": "RUNNABLE",
        "maxTimeSeconds": 600,
    }
    q = queue(batch, "q", "ce", jobStateTimeLimitActions=[{**action, "action": "CANCEL"}])
    emulator.run_until_idle()
    big = submit(batch, q, vcpus=1, memory=16384)
    emulator.run_until_idle()
    emulator.advance(600)
    emulator.run_until_idle()
    job = describe(batch, big)
    assert job["status"] == "FAILED"
    assert job["statusReason"].startswith("Canceled by JobStateTimeLimit action due to reason: MISCONF")


def test_a_gpu_job_lands_only_on_a_gpu_instance_type(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5", "g4dn"], max_vcpus=64)
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    plain = submit(batch, q)
    gpu = submit(batch, q, gpus=1)
    emulator.run_until_idle()
    kinds = {row["instanceType"]: row["jobs"] for row in emulator.instances()}
    assert kinds["c5.large"] == [plain]
    assert kinds["g4dn.xlarge"] == [gpu]
    assert describe(batch, gpu)["status"] == "RUNNING"


def test_a_gpu_job_on_a_ce_without_gpus_is_blocked(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    gpu = submit(batch, q, gpus=1)
    emulator.run_until_idle()
    assert describe(batch, gpu)["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")


def test_two_one_vcpu_jobs_share_one_instance_of_a_two_vcpu_type(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5.large"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    first, second = submit(batch, q), submit(batch, q)
    emulator.run_until_idle()
    one, two = describe(batch, first), describe(batch, second)
    assert one["status"] == two["status"] == "RUNNING"
    assert one["container"]["containerInstanceArn"] == two["container"]["containerInstanceArn"]
    assert one["container"]["taskArn"] != two["container"]["taskArn"]
    [instance] = emulator.instances()
    assert instance["instanceType"] == "c5.large"
    assert sorted(instance["jobs"]) == sorted([first, second])
    third = submit(batch, q)
    emulator.run_until_idle()
    assert (
        describe(batch, third)["container"]["containerInstanceArn"]
        != one["container"]["containerInstanceArn"]
    )


def test_desired_vcpus_follows_the_instances_and_idle_instances_scale_in(
    batch: Any, emulator: Emulator
) -> None:
    environment(batch, "ce", ["c5.large"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()

    def desired() -> int:
        ce = batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"][0]
        return int(ce["computeResources"]["desiredvCpus"])

    assert desired() == 0
    for _ in range(3):
        submit(batch, q)
    emulator.run_until_idle()
    assert desired() == 4  # two c5.large
    emulator.advance(100)  # the jobs end
    emulator.run_until_idle()
    assert desired() == 4  # idle, not yet scaled in
    emulator.advance(300)
    emulator.run_until_idle()
    assert desired() == 0
    assert emulator.instances() == []


def test_min_vcpus_keeps_instances_running(batch: Any, emulator: Emulator) -> None:
    environment(batch, "ce", ["c5.large"], max_vcpus=8, minvCpus=4, desiredvCpus=4)
    emulator.run_until_idle()
    emulator.advance(1000)
    emulator.run_until_idle()
    assert [row["instanceType"] for row in emulator.instances()] == ["c5.large", "c5.large"]


def test_a_spot_interruption_retries_a_job_whose_strategy_says_so_and_fails_one_whose_does_not(
    batch: Any, emulator: Emulator, server: Any
) -> None:
    environment(batch, "spot", ["c5.large"], kind="SPOT")
    q = queue(batch, "q", "spot")
    emulator.run_until_idle()
    retried = submit(
        batch,
        q,
        retryStrategy={
            "attempts": 2,
            "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onReason": "*", "action": "EXIT"},
            ],
        },
    )
    failed = submit(batch, q)
    emulator.run_until_idle()
    [instance] = emulator.instances()
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{server.endpoint}/_batchemu/instances/terminate",
        data=json.dumps({"computeEnvironment": "spot", "spot": True}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert sorted(json.loads(response.read())["jobsAffected"]) == sorted([retried, failed])
    reason = f"Host EC2 (instance {instance['instanceId']}) terminated."
    gone = describe(batch, failed)
    assert (gone["status"], gone["statusReason"]) == ("FAILED", reason)
    again = describe(batch, retried)
    assert again["status"] in ("RUNNABLE", "STARTING", "RUNNING")
    assert again["attempts"][0]["statusReason"] == reason
    emulator.run_until_idle()
    again = describe(batch, retried)
    assert again["status"] == "RUNNING"
    assert again["container"]["containerInstanceArn"] != instance["containerInstanceArn"]


def test_terminating_an_unknown_instance_affects_nothing(server: Any, emulator: Emulator) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{server.endpoint}/_batchemu/instances/terminate",
        data=json.dumps({"instanceId": "i-0123"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read()) == {"jobsAffected": []}


def test_the_dashboard_shows_each_instance_and_the_jobs_on_it(
    batch: Any, emulator: Emulator, server: Any
) -> None:
    import json
    import urllib.request

    environment(batch, "ce", ["c5.large"])
    q = queue(batch, "q", "ce")
    emulator.run_until_idle()
    job_id = submit(batch, q)
    emulator.run_until_idle()
    [instance] = emulator.instances()
    with urllib.request.urlopen(f"{server.endpoint}/_batchemu/ui/") as response:
        page = response.read().decode()
    assert f'data-instance-id="{instance["instanceId"]}"' in page
    assert job_id in page and "c5.large" in page
    with urllib.request.urlopen(f"{server.endpoint}/_batchemu/ui/api/summary") as response:
        summary = json.loads(response.read())
    assert [row["jobs"] for row in summary["instances"]] == [[job_id]]

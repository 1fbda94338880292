"""What a Batch-only user loads: nothing of moto until a call needs it (moto and its EC2 cost a second), yet
ECS shows every compute environment's cluster and Step Functions runs Batch tasks once asked. Each test runs
in a fresh interpreter: this one has long since imported moto."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import sys
from batchemu.testing import serve_in_process, BatchemuHandle

server = serve_in_process("simulated")
handle = BatchemuHandle(server.endpoint, server.emulator)
batch = handle.client("batch")
batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
    "type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
    "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"})
batch.create_job_queue(jobQueueName="q", priority=1,
                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
batch.register_job_definition(jobDefinitionName="work", type="container",
                              containerProperties={"image": "busybox", "vcpus": 1, "memory": 512})
job = batch.submit_job(jobName="job", jobQueue="q", jobDefinition="work")["jobId"]
import time
deadline = time.monotonic() + 30  # as a user's test polls; the handle's settle() would write the logs
while batch.describe_jobs(jobs=[job])["jobs"][0]["status"] != "SUCCEEDED":
    assert time.monotonic() < deadline
    time.sleep(0.01)
[environment] = batch.describe_compute_environments()["computeEnvironments"]
"""


def run(body: str) -> None:
    code = PRELUDE + textwrap.dedent(body) + "\nserver.stop()\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_batch_only_session_imports_no_moto_module() -> None:
    run(
        """
        assert environment["status"] == "VALID" and environment["ecsClusterArn"]
        loaded = [name for name in sys.modules if name == "moto" or name.startswith("moto.")]
        assert not loaded, loaded[:5]
        """
    )


def test_ecs_shows_the_cluster_of_an_environment_made_before_ecs_was_loaded() -> None:
    run(
        """
        ecs = handle.client("ecs")
        name = environment["ecsClusterArn"].rsplit("/", 1)[-1]
        assert [c["status"] for c in ecs.describe_clusters(clusters=[name])["clusters"]] == ["ACTIVE"]
        assert environment["ecsClusterArn"] in ecs.list_clusters()["clusterArns"]
        """
    )


def test_step_functions_is_hooked_when_first_used() -> None:
    run(
        """
        from batchemu.integrations import moto_stepfunctions

        assert moto_stepfunctions._installed is None
        sfn = handle.client("stepfunctions")
        sfn.list_state_machines()
        assert moto_stepfunctions._installed is True
        """
    )

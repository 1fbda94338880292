"""A CDK app (aws-cdk-lib and the aws-cdk CLI, pinned in tests/e2e/cdk/package.json) that defines a Batch
environment is synthesized offline with `cdk synth` and its template deployed with CreateStack: the
queue is batchemu's, a job in it succeeds, and DeleteStack removes it. Skipped when npm is missing, unless
CI=true (scripts/setup-cdk installs the packages into .cache/cdk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import ACCOUNT, make_client

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "e2e" / "cdk" / "app.js"


@pytest.fixture(scope="module")
def node_modules() -> str:
    """Installs the pinned packages once (scripts/setup-cdk is a no-op when up to date)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm and node are required under CI=true")
        pytest.skip("npm is not installed (CI=true makes this a failure)")
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup-cdk")], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)["node_modules"]


def synthesize(node_modules: str, out: Path) -> dict[str, Any]:
    """`cdk synth` without network or credentials: no version reporting, no notices, no version check."""
    env = {**os.environ, "NODE_PATH": node_modules, "CDK_DISABLE_VERSION_CHECK": "1"}
    command = [
        str(Path(node_modules) / ".bin" / "cdk"),
        "synth",
        "--app",
        f"node {APP}",
        "--output",
        str(out),
        "--no-version-reporting",
        "--no-notices",
        "--quiet",
    ]
    result = subprocess.run(command, cwd=out.parent, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "BatchEnvironment.template.json").read_text())  # type: ignore[no-any-return]


def test_a_cdk_batch_environment_deploys_and_runs_a_job(
    node_modules: str, server: ServerThread, emulator: Emulator, tmp_path: Path
) -> None:
    template = synthesize(node_modules, tmp_path / "cdk.out")
    assert "AWS::Batch::JobQueue" in {resource["Type"] for resource in template["Resources"].values()}
    cfn = make_client(server.endpoint, access_key=ACCOUNT, service="cloudformation")
    batch = make_client(server.endpoint, access_key=ACCOUNT)
    stack_id = cfn.create_stack(StackName="cdk-batch", TemplateBody=json.dumps(template))["StackId"]
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", cfn.describe_stack_events(StackName=stack_id)
    found = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    [queue] = batch.describe_job_queues(jobQueues=[found["QueueArn"]])["jobQueues"]
    assert (queue["status"], queue["priority"]) == ("VALID", 10)
    job = batch.submit_job(jobName="cdk", jobQueue=found["QueueArn"], jobDefinition=found["DefinitionArn"])
    emulator.run_until_idle()
    assert batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["status"] == "SUCCEEDED"
    cfn.delete_stack(StackName=stack_id)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert batch.describe_job_queues()["jobQueues"] == []

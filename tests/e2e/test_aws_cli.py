"""The AWS CLI v1 (`python -m awscli ... --endpoint-url`) against a served emulator: resources, a job from
submission to SUCCEEDED, ListJobs, the job's log lines through `aws logs`, and an error as the CLI shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from tests.helpers import COMPUTE_RESOURCES, CONTAINER

pytest.importorskip("awscli", reason="the AWS CLI v1 comes with the dev extra (pip install awscli)")


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Dummy credentials and no user config, so nothing on this machine changes what the CLI sends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    return env


def aws(server: ServerThread, env: dict[str, str], *args: str, check: bool = True) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.mark.slow
def test_cli_runs_a_job_from_resources_to_log_lines(
    server: ServerThread, emulator: Emulator, tmp_path: Path
) -> None:
    env = cli_env(tmp_path)
    created = aws(
        server, env, "batch", "create-compute-environment", "--compute-environment-name", "cli-ce",
        "--type", "MANAGED", "--compute-resources", json.dumps(COMPUTE_RESOURCES),
    )  # fmt: skip
    assert created["computeEnvironmentName"] == "cli-ce"
    queue = aws(
        server, env, "batch", "create-job-queue", "--job-queue-name", "cli-q", "--priority", "1",
        "--compute-environment-order", "order=1,computeEnvironment=cli-ce",
    )  # fmt: skip
    assert queue["jobQueueArn"].endswith(":job-queue/cli-q")
    definition = aws(
        server, env, "batch", "register-job-definition", "--job-definition-name", "cli-jd",
        "--type", "container", "--container-properties", json.dumps(CONTAINER),
    )  # fmt: skip
    assert definition["revision"] == 1
    submitted = aws(
        server, env, "batch", "submit-job", "--job-name", "cli-job", "--job-queue", "cli-q",
        "--job-definition", "cli-jd", "--parameters", "greeting=hello-from-the-cli",
    )  # fmt: skip
    emulator.run_until_idle()
    emulator.flush()  # the job's output reaches CloudWatch Logs now

    [job] = aws(server, env, "batch", "describe-jobs", "--jobs", submitted["jobId"])["jobs"]
    assert (job["jobName"], job["status"], job["attempts"][0]["container"]["exitCode"]) == (
        "cli-job",
        "SUCCEEDED",
        0,
    )
    listed = aws(server, env, "batch", "list-jobs", "--job-queue", "cli-q", "--job-status", "SUCCEEDED")
    assert [summary["jobId"] for summary in listed["jobSummaryList"]] == [submitted["jobId"]]
    events = aws(
        server, env, "logs", "get-log-events", "--log-group-name", "/aws/batch/job",
        "--log-stream-name", job["container"]["logStreamName"], "--start-from-head",
    )  # fmt: skip
    assert [event["message"] for event in events["events"]] == ["simulated: echo hello-from-the-cli"]


def test_cli_shows_a_client_error_and_exits_non_zero(
    server: ServerThread, emulator: Emulator, tmp_path: Path
) -> None:
    result = aws(
        server, cli_env(tmp_path), "batch", "submit-job", "--job-name", "j", "--job-queue", "missing",
        "--job-definition", "missing", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ClientException" in result.stderr

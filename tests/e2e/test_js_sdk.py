"""The AWS SDK for JavaScript v3 (@aws-sdk/client-batch, pinned in tests/e2e/js/package.json) against a
served emulator: a Node script creates resources, submits a job and waits for SUCCEEDED. Skipped when npm
is missing, unless CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from batchemu import Emulator, ServerThread

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "e2e" / "js" / "batch_sdk.mjs"


@pytest.fixture(scope="module")
def node_modules() -> str:
    """Installs the pinned packages once (scripts/setup-browser --node-only is a no-op when up to date)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm and node are required under CI=true")
        pytest.skip("npm is not installed (CI=true makes this a failure)")
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup-browser"), "--node-only"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)["node_modules"]


def test_js_sdk_submits_a_job_and_sees_it_succeed(
    node_modules: str, server: ServerThread, emulator: Emulator
) -> None:
    result = subprocess.run(
        ["node", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "BATCHEMU_ENDPOINT": server.endpoint, "BATCHEMU_NODE_MODULES": node_modules},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == "SUCCEEDED"
    assert seen["exitCode"] == 0
    assert seen["listed"] == [seen["jobId"]]
    assert seen["revision"] == 1
    assert seen["createdAtIsNumber"] is True

"""examples/cli.sh, the AWS CLI walkthrough, runs against a served emulator (real clock, simulated runner)
and exits 0 once its job SUCCEEDED, having printed the job's log line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cli.sh"

pytestmark = pytest.mark.slow


@pytest.fixture
def served() -> Iterator[ServerThread]:
    with ServerThread(Emulator(Settings(runner="simulated"))) as running:
        yield running


def test_cli_example_runs_a_job_to_succeeded(served: ServerThread, tmp_path: Path) -> None:
    # The CLI installed next to this Python (the dev extra), first on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("aws", path=path) is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli, in the dev extra)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=path,
        BATCHEMU_ENDPOINT=served.endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    result = subprocess.run(["bash", str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "== SUCCEEDED" in result.stdout
    assert "log: simulated: echo hello batchemu" in result.stdout

"""The thumbnail example end to end on a real Docker engine: S3 upload -> EventBridge (option 2) or a Lambda
function (option 1) -> Batch job in a container -> thumbnail in S3 and an item in DynamoDB, by running
`python examples/thumbnail/run.py --trigger ...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import docker_engine  # noqa: F401  (the fixture: engine + test images)

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.mark.parametrize("trigger", ["eventbridge", "lambda"])
def test_the_thumbnail_pipeline_processes_every_upload(docker_engine: None, trigger: str) -> None:  # noqa: F811
    script = REPO / "examples" / "thumbnail" / "run.py"
    result = subprocess.run(
        [sys.executable, str(script), "--count", "3", "--timeout", "240", "--trigger", trigger],
        capture_output=True,
        text=True,
        timeout=1200,  # a first run builds the job image
        cwd=REPO,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"no summary; stderr:\n{result.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    assert result.returncode == 0, f"{summary}\n{result.stderr[-4000:]}"
    assert (summary["ok"], summary["trigger"]) == (True, trigger)
    assert summary["images"] == summary["thumbnails"] == summary["items"] == 3
    assert len(set(summary["jobs"])) == 3

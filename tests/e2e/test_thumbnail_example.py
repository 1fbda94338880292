"""The thumbnail example end to end on a real Docker engine: S3 upload -> EventBridge -> Batch job in a
container -> thumbnail in S3 and an item in DynamoDB, by running `python examples/thumbnail/run.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import docker_engine  # noqa: F401  (the fixture: engine + test images)

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


def test_the_thumbnail_pipeline_processes_every_upload(docker_engine: None) -> None:  # noqa: F811
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "thumbnail" / "run.py"), "--count", "3", "--timeout", "240"],
        capture_output=True,
        text=True,
        timeout=1200,  # a first run builds the job image
        cwd=REPO,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"no summary; stderr:\n{result.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    assert result.returncode == 0, f"{summary}\n{result.stderr[-4000:]}"
    assert summary["ok"] is True
    assert summary["images"] == summary["thumbnails"] == summary["items"] == 3
    assert len(set(summary["jobs"])) == 3

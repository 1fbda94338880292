"""Every example in examples/ runs twice in a row against one served emulator with the Docker runner, offline:
each run makes names of its own or reuses what exists, and the images they name are ones
scripts/build-test-images builds (no registry)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.integration.conftest import docker_engine  # noqa: F401  (the fixture: engine + test images)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def served(docker_engine: None) -> Iterator[ServerThread]:  # noqa: F811
    with ServerThread(Emulator(Settings(runner="docker"))) as running:
        yield running


def environment(served: ServerThread, tmp_path: Path) -> dict[str, str]:
    """This Python's scripts (the AWS CLI of the dev extra) first on PATH, no AWS settings of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        BATCHEMU_ENDPOINT=served.endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    return env


def twice(command: list[str], env: dict[str, str], timeout: float) -> list[subprocess.CompletedProcess[str]]:
    runs = []
    for _ in range(2):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
        assert result.returncode == 0, f"run {len(runs) + 1}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        runs.append(result)
    return runs


def test_every_example_is_tested_here() -> None:
    examples = sorted(
        path.relative_to(EXAMPLES).as_posix()
        for path in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("*.sh"), *EXAMPLES.glob("*/run.py")]
    )
    # nightly/run.py runs twice on a fake clock in test_nightly_example.py (a real clock waits for the rule)
    assert examples == [
        "cli.sh",
        "nightly/run.py",
        "quickstart.py",
        "stepfunctions/run.py",
        "thumbnail/run.py",
    ]


def test_quickstart_runs_twice(served: ServerThread, tmp_path: Path) -> None:
    runs = twice([sys.executable, str(EXAMPLES / "quickstart.py")], environment(served, tmp_path), 120)
    assert [run.stdout.split() for run in runs] == [["hello", "SUCCEEDED", "True"]] * 2


def test_cli_example_runs_twice(served: ServerThread, tmp_path: Path) -> None:
    env = environment(served, tmp_path)
    if shutil.which("aws", path=env["PATH"]) is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli, in the dev extra)")
    runs = twice(["bash", str(EXAMPLES / "cli.sh")], env, 180)
    for run in runs:
        assert "== SUCCEEDED" in run.stdout
        assert "log: hello batchemu" in run.stdout  # the container's own output, read back from the logs
    job_ids = [
        line.split()[-1] for run in runs for line in run.stdout.splitlines() if line.startswith("job id:")
    ]
    assert len(set(job_ids)) == 2


def test_thumbnail_example_runs_twice(served: ServerThread, tmp_path: Path) -> None:
    command = [sys.executable, str(EXAMPLES / "thumbnail" / "run.py"), "--count", "1", "--timeout", "240"]
    runs = twice(command, environment(served, tmp_path), 1200)  # a first run may build the job image
    summaries = [json.loads(run.stdout.strip().splitlines()[-1]) for run in runs]
    assert [(summary["ok"], summary["thumbnails"]) for summary in summaries] == [(True, 1)] * 2
    assert summaries[0]["jobs"] != summaries[1]["jobs"]


def test_stepfunctions_example_runs_twice(served: ServerThread, tmp_path: Path) -> None:
    runs = twice(
        [sys.executable, str(EXAMPLES / "stepfunctions" / "run.py")], environment(served, tmp_path), 300
    )
    summaries = [json.loads(run.stdout.strip().splitlines()[-1]) for run in runs]
    assert [(summary["status"], summary["days"]) for summary in summaries] == [("SUCCEEDED", 4)] * 2
    assert summaries[0]["execution"] != summaries[1]["execution"]

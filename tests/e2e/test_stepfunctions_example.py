"""examples/stepfunctions/run.py runs against a served emulator (real clock, simulated runner), twice in a row:
the Map state's four jobs SUCCEED and the execution collects them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from batchemu import Emulator, ServerThread
from batchemu.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stepfunctions" / "run.py"


def test_the_stepfunctions_example_fans_out_four_jobs_and_runs_twice() -> None:
    with ServerThread(Emulator(Settings(runner="simulated"))) as served:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["BATCHEMU_ENDPOINT"] = served.endpoint
        for _ in range(2):
            result = subprocess.run(
                [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            summary = json.loads(result.stdout.strip().splitlines()[-1])
            assert summary["status"] == "SUCCEEDED"
            assert summary["days"] == 4
            assert [r["exitCode"] for r in summary["results"]] == [0, 0, 0, 0]
            assert summary["results"][0]["day"] == "2026-11-28"

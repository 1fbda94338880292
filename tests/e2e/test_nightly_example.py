"""examples/nightly/run.py against a fake-clock server: the nightly cron rule fires when the example steps
the clock to 03:00 UTC, the Scheduler schedule submits its job and deletes itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from batchemu import Emulator, ServerThread
from tests.helpers import make_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly" / "run.py"


def test_the_nightly_example_runs_both_jobs_on_a_fake_clock() -> None:
    with ServerThread(Emulator.for_tests()) as served:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["BATCHEMU_ENDPOINT"] = served.endpoint
        try:
            runs = [  # twice: the example reuses what the first run made
                subprocess.run(
                    [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120
                )
                for _ in range(2)
            ]
        finally:  # moto's state is the process's: leave no rule behind for other tests
            events = make_client(served.endpoint, access_key="123456789012", service="events")
            if any(rule["Name"] == "nightly-report" for rule in events.list_rules()["Rules"]):
                events.remove_targets(Rule="nightly-report", Ids=["queue"])
                events.delete_rule(Name="nightly-report")
    for result in runs:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["rule"] == "cron(0 3 * * ? *)"
        assert summary["jobs"] == {"nightly-report": "SUCCEEDED", "one-off-report": "SUCCEEDED"}
        assert summary["schedule_deleted"] is True

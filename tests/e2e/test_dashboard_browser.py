"""The dashboard in real headless Chromium (Debian's, driven by playwright-core from Node): a job submitted
after the page opened shows up, goes to SUCCEEDED without a reload, and its page shows its log line.
Skipped when Chromium or npm cannot be installed, unless CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.helpers import container, make_client, provision

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "e2e" / "js" / "dashboard_browser.mjs"
INJECTION = "<script>window.__batchemuInjected=true</script>"

pytestmark = pytest.mark.slow


def setup_browser() -> dict[str, str]:
    """Runs scripts/setup-browser (a no-op once installed); its `key=value` lines say where things are."""
    if shutil.which("npm") is None and os.environ.get("CI") != "true":
        pytest.skip("npm is not installed (CI=true makes this a failure)")
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup-browser")], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        message = f"scripts/setup-browser failed: {result.stderr[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def browser_tools() -> dict[str, str]:
    return setup_browser()


@pytest.fixture(scope="module")
def served() -> Iterator[ServerThread]:
    """The real clock and the simulated runner, so a job spends visible seconds RUNNING."""
    with ServerThread(Emulator(Settings(runner="simulated"))) as running:
        yield running


def create_resources(endpoint: str):  # type: ignore[no-untyped-def]
    batch = make_client(endpoint)
    properties = container(
        ["echo", "hello-from-chromium", "Ref::note"],
        environment=[{"name": "BATCHEMU_SIMULATE_SECONDS", "value": "2"}],
    )
    provision(batch, ce="browser-ce", queue="browser-q", definition="browser-jd", properties=properties)
    return batch


def test_a_job_goes_to_succeeded_live_and_its_page_shows_its_log_line(
    browser_tools: dict[str, str], served: ServerThread, tmp_path: Path
) -> None:
    batch = create_resources(served.endpoint)
    expected_log = f"simulated: echo hello-from-chromium {INJECTION}"
    driver = subprocess.Popen(
        ["node", str(DRIVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "BATCHEMU_ENDPOINT": served.endpoint,
            "BATCHEMU_NODE_MODULES": browser_tools["node_modules"],
            "CHROMIUM": browser_tools["chromium"],
            "EXPECTED_LOG": expected_log,
            "USER_DATA_DIR": str(tmp_path / "chromium-profile"),
        },
    )
    try:
        assert driver.stdout is not None and driver.stdin is not None
        ready = driver.stdout.readline().strip()
        assert ready == "ready", f"driver said {ready!r}: {driver.stderr.read() if ready == '' else ''}"
        job_id = batch.submit_job(
            jobName="browser-job",
            jobQueue="browser-q",
            jobDefinition="browser-jd",
            parameters={"note": INJECTION},
        )["jobId"]
        out, err = driver.communicate(f"{job_id}\n", timeout=90)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    seen = json.loads(out.strip().splitlines()[-1])

    assert "failure" not in seen, seen["failure"] + err[-2000:]
    assert seen["statusesSeen"][-1] == "SUCCEEDED"
    assert "RUNNING" in seen["statusesSeen"]
    assert seen["queueSucceeded"] == "1"
    assert expected_log in seen["logs"]
    assert seen["jobName"] == "browser-job"
    assert INJECTION in seen["parameters"]  # shown as text...
    assert seen["injected"] is False  # ...never run
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["attempts"] == 1

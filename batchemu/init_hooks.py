"""The init folder (--init-dir / BATCHEMU_INIT_DIR), run once the server listens and before it says it is
ready, as LocalStack's init hooks: every `*.py` script (run with this Python, AWS_ENDPOINT_URL set to the
endpoint, and test credentials unless the environment has its own) and every CloudFormation template
(`*.json`, `*.yaml`, `*.yml`: CreateStack, the stack named after the file), in file-name order. A failing
file is a warning with its output; the next one still runs and the server still starts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3

log = logging.getLogger("batchemu.init")
TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml")
SCRIPT_SECONDS = 300


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    detail: str


def run_init_dir(directory: str, endpoint: str, account: str, region: str) -> list[Outcome]:
    outcomes = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix == ".py":
            outcome = _script(path, endpoint, account, region)
        elif path.suffix in TEMPLATE_SUFFIXES:
            outcome = _template(path, endpoint, account, region)
        else:
            continue
        if outcome.ok:
            log.info("init %s: %s", outcome.name, outcome.detail)
        else:
            log.warning("init %s failed: %s", outcome.name, outcome.detail)
        outcomes.append(outcome)
    return outcomes


def _environment(endpoint: str, account: str, region: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment["AWS_ENDPOINT_URL"] = endpoint
    environment.setdefault("AWS_ACCESS_KEY_ID", account)  # the access key names the account
    environment.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    environment.setdefault("AWS_DEFAULT_REGION", region)
    return environment


def _script(path: Path, endpoint: str, account: str, region: str) -> Outcome:
    try:
        done = subprocess.run(
            [sys.executable, str(path)],
            env=_environment(endpoint, account, region),
            cwd=str(path.parent),
            capture_output=True,
            text=True,
            timeout=SCRIPT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return Outcome(path.name, False, f"still running after {SCRIPT_SECONDS} s; stopped")
    output = (done.stdout + done.stderr).strip()[-2000:]
    if done.returncode != 0:
        return Outcome(path.name, False, f"exit status {done.returncode}: {output}")
    return Outcome(path.name, True, "ran" + (f": {output}" if output else ""))


def _template(path: Path, endpoint: str, account: str, region: str) -> Outcome:
    client = boto3.client(
        "cloudformation",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=account,
        aws_secret_access_key="test",
    )
    try:
        client.create_stack(
            StackName=path.stem,
            TemplateBody=path.read_text(encoding="utf-8"),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        client.get_waiter("stack_create_complete").wait(
            StackName=path.stem, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except Exception as error:
        return Outcome(path.name, False, str(error))
    return Outcome(path.name, True, f"stack {path.stem} created")

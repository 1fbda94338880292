"""Seed and snapshot from the command line: `batchemu serve --init-dir` runs a folder of scripts and
CloudFormation templates before the ready line, and `batchemu state export/import` moves a whole
environment (Batch and the services moto serves) from one server to another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import free_port, start
from tests.helpers import ACCOUNT, make_client

SEED = """
import boto3
boto3.client("s3").create_bucket(Bucket="seeded")
boto3.client("dynamodb").create_table(
    TableName="seeded",
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)
batch = boto3.client("batch")
batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
print("seeded")
"""
TEMPLATE = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-template"}}}}


class Server:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = start("--port", str(self.port), "--runner", "simulated", *args, env=env)
        assert self.process.stdout is not None
        self.ready = self.process.stdout.readline()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return make_client(self.endpoint, access_key=ACCOUNT, service=service)

    def stop(self) -> str:
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=20)
        return stderr


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for server in made:
        if server.process.poll() is None:
            server.stop()


def test_the_init_dir_runs_scripts_and_templates_before_the_ready_line(
    tmp_path: Path, servers: list[Server]
) -> None:
    (tmp_path / "10-seed.py").write_text(SEED)
    (tmp_path / "20-queue.json").write_text(json.dumps(TEMPLATE))
    (tmp_path / "30-broken.py").write_text("raise SystemExit('no luck')")
    (tmp_path / "notes.txt").write_text("not run")
    server = Server(env={"BATCHEMU_INIT_DIR": str(tmp_path), "AWS_ACCESS_KEY_ID": ACCOUNT})
    servers.append(server)
    assert "ready on" in server.ready
    assert [b["Name"] for b in server.client("s3").list_buckets()["Buckets"]] == ["seeded"]
    assert server.client("dynamodb").list_tables()["TableNames"] == ["seeded"]
    assert server.client("sqs").get_queue_url(QueueName="from-template")["QueueUrl"]
    found = server.client("batch").describe_compute_environments()["computeEnvironments"]
    assert [ce["computeEnvironmentName"] for ce in found] == ["ce"]
    stderr = server.stop()
    assert "init 30-broken.py failed: exit status 1: no luck" in stderr


def test_an_init_dir_that_is_not_a_folder_is_a_startup_error(tmp_path: Path) -> None:
    process = start("--init-dir", str(tmp_path / "missing"))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2 and "--init-dir" in stderr and "not a directory" in stderr


def state(action: str, file: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchemu", "state", action, str(file), "--endpoint", endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_an_exported_environment_imports_into_another_server(tmp_path: Path, servers: list[Server]) -> None:
    source = Server()
    servers.append(source)
    batch = source.client("batch")
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 64},
    )
    source.client("s3").create_bucket(Bucket="snap")
    source.client("s3").put_object(Bucket="snap", Key="k", Body=b"kept")
    source.client("events").put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")
    snapshot = tmp_path / "env.batchemu"
    exported = state("export", snapshot, source.endpoint)
    assert exported.returncode == 0, exported.stderr

    target = Server("--state-dir", str(tmp_path / "state"))
    servers.append(target)
    target.client("s3").create_bucket(Bucket="replaced")
    imported = state("import", snapshot, target.endpoint)
    assert imported.returncode == 0, imported.stderr
    assert [b["Name"] for b in target.client("s3").list_buckets()["Buckets"]] == ["snap"]
    assert target.client("s3").get_object(Bucket="snap", Key="k")["Body"].read() == b"kept"
    assert [r["Name"] for r in target.client("events").list_rules()["Rules"]] == ["hourly"]
    definitions = target.client("batch").describe_job_definitions(jobDefinitionName="jd")["jobDefinitions"]
    assert [d["revision"] for d in definitions] == [1]
    target.stop()
    again = Server("--state-dir", str(tmp_path / "state"))  # the import was written to the state dir
    servers.append(again)
    assert [b["Name"] for b in again.client("s3").list_buckets()["Buckets"]] == ["snap"]


def test_importing_a_file_that_is_not_a_snapshot_changes_nothing(
    tmp_path: Path, servers: list[Server]
) -> None:
    server = Server()
    servers.append(server)
    server.client("s3").create_bucket(Bucket="stays")
    bogus = tmp_path / "bogus"
    bogus.write_bytes(b"not a snapshot" * 50)
    imported = state("import", bogus, server.endpoint)
    assert imported.returncode == 1 and "not a batchemu state file" in imported.stderr
    assert [b["Name"] for b in server.client("s3").list_buckets()["Buckets"]] == ["stays"]

"""A multi-container (ecsProperties) job on the docker runner, seen through boto3: the containers of a task
reach each other on localhost (on the host network, and on a bridge network through one shared network
namespace per task), the task ends when its essential container exits (the sidecar is
stopped with SIGTERM, then SIGKILL after its stopTimeout), and each container's output is in its own CloudWatch Logs stream."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.integration.test_jobs_on_docker import PYTHON, Account

pytestmark = pytest.mark.docker

CLIENT = """
import sys, time, urllib.request
for _ in range(100):
    try:
        print("got:", urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).status)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(5)
"""
SERVER = """
import http.server, signal, sys
def stop(*_):
    print("SIGTERM: stopping", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def account(docker_engine: None) -> Iterator[Account]:
    with ServerThread(Emulator(Settings(runner="docker"))) as server:
        yield Account(server)


@pytest.fixture(scope="module")
def bridged(docker_engine: None) -> Iterator[Account]:
    """A server whose job containers run on a user-defined bridge network, not the host's."""
    import docker

    client = docker.from_env()
    network = client.networks.create(f"batchemu-test-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        with ServerThread(Emulator(Settings(runner="docker", docker_network=network.name))) as server:
            yield Account(server)
    finally:
        network.remove()
        client.close()


def container(name: str, command: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": PYTHON,
        "command": command,
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        **extra,
    }


def stream_messages(account: Account, stream: str) -> list[str]:
    account.server.emulator.flush()
    events = account.logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True
    )["events"]
    return [event["message"] for event in events]


def test_a_sidecar_serves_the_main_container_on_localhost_and_is_stopped_when_main_exits(
    account: Account,
) -> None:
    port = str(random.randint(20000, 40000))
    queue = account.create_queue("tasks")
    main = container(
        "main",
        ["python3", "-c", CLIENT, port],
        dependsOn=[{"containerName": "server", "condition": "START"}],
    )
    server = container("server", ["python3", "-u", "-c", SERVER, port], essential=False)
    account.batch.register_job_definition(
        jobDefinitionName="with-sidecar",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [main, server]}]},
    )
    job = account.wait_for(account.submit(queue, "with-sidecar"))
    assert (job["status"], job["statusReason"]) == ("SUCCEEDED", "Essential container in task exited")
    assert "container" not in job or not job["container"]
    found = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert found["main"]["exitCode"] == 0
    assert found["server"]["exitCode"] == 0  # it handled the SIGTERM sent once main exited
    assert stream_messages(account, found["main"]["logStreamName"]) == ["got: 200"]
    assert any(
        '"GET / HTTP/1.1" 200' in line for line in stream_messages(account, found["server"]["logStreamName"])
    )


def test_a_sidecar_that_ignores_sigterm_is_killed_after_its_stop_timeout(account: Account) -> None:
    queue = account.create_queue("stubborn")
    main = container("main", ["python3", "-c", "print('done')"])
    # PID 1 without a handler ignores SIGTERM, so only the SIGKILL after stopTimeout ends it
    stubborn = container("stubborn", ["sleep", "300"], essential=False, stopTimeout=2)
    account.batch.register_job_definition(
        jobDefinitionName="stubborn-sidecar",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [main, stubborn]}]},
    )
    started = time.monotonic()
    job = account.wait_for(account.submit(queue, "stubborn-sidecar"))
    assert job["status"] == "SUCCEEDED"
    found = {c["name"]: c["exitCode"] for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert found == {"main": 0, "stubborn": 137}
    assert job["stoppedAt"] - job["startedAt"] >= 2000  # the grace was given
    assert time.monotonic() - started < 30  # not the 300 s of the sleep


def test_on_a_bridge_network_the_containers_of_a_task_share_one_network_namespace(bridged: Account) -> None:
    """`setup` starts first and exits before the others start: `server` then owns a fresh namespace, and
    `main` joins it, reaching the server on localhost."""
    port = str(random.randint(20000, 40000))
    queue = bridged.create_queue("bridged")
    setup = container("setup", ["python3", "-c", "print('ready')"], essential=False)
    server = container(
        "server",
        ["python3", "-u", "-c", SERVER, port],
        essential=False,
        dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}],
    )
    main = container(
        "main", ["python3", "-c", CLIENT, port], dependsOn=[{"containerName": "server", "condition": "START"}]
    )
    bridged.batch.register_job_definition(
        jobDefinitionName="bridged-sidecar",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [setup, server, main]}]},
    )
    job = bridged.wait_for(bridged.submit(queue, "bridged-sidecar"))
    found = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert job["status"] == "SUCCEEDED", found
    assert {name: c["exitCode"] for name, c in found.items()} == {"setup": 0, "server": 0, "main": 0}
    assert stream_messages(bridged, found["main"]["logStreamName"]) == ["got: 200"]


def test_each_node_of_a_multi_node_ecs_range_runs_its_task_in_its_own_namespace(bridged: Account) -> None:
    """Both nodes' sidecars listen on the same port at once (node 0 outlives node 1): each node's task has
    its own network namespace, and each node's main container reaches its own sidecar on localhost."""
    port = str(random.randint(20000, 40000))
    queue = bridged.create_queue("mnp-bridged")
    server = container("server", ["python3", "-u", "-c", SERVER, port], essential=False)
    main = container(
        "main",
        [
            "sh",
            "-c",
            f'python3 -c "$0" {port} && echo "node $AWS_BATCH_JOB_NODE_INDEX" && '
            # the main node outlives the other, which would be stopped when it ends
            'if [ "$AWS_BATCH_JOB_NODE_INDEX" = 0 ]; then sleep 8; fi',
            CLIENT,
        ],
        dependsOn=[{"containerName": "server", "condition": "START"}],
    )
    bridged.batch.register_job_definition(
        jobDefinitionName="mnp-sidecars",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0:1", "ecsProperties": {"taskProperties": [{"containers": [server, main]}]}}
            ],
        },
    )
    job_id = bridged.submit(queue, "mnp-sidecars")
    assert bridged.wait_for(job_id)["status"] == "SUCCEEDED"
    for index in (0, 1):
        [node] = bridged.batch.describe_jobs(jobs=[f"{job_id}#{index}"])["jobs"]
        found = {c["name"]: c for c in node["ecsProperties"]["taskProperties"][0]["containers"]}
        assert node["status"] == "SUCCEEDED" and found["main"]["exitCode"] == 0, node
        assert found["server"]["exitCode"] == 0, "a sidecar that could not bind its port exits 1"
        assert stream_messages(bridged, found["main"]["logStreamName"]) == ["got: 200", f"node {index}"]


def test_an_eks_pod_runs_its_init_container_first_and_shares_its_empty_dir(account: Account) -> None:
    from tests.helpers import compute_resources

    account.batch.create_compute_environment(
        computeEnvironmentName="pods-ce",
        type="MANAGED",
        eksConfiguration={
            "eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/jobs",
            "kubernetesNamespace": "batch",
        },
        computeResources=compute_resources(8),
    )
    account.batch.create_job_queue(
        jobQueueName="pods",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "pods-ce"}],
    )
    account.wait_until(lambda: account._queue_status("pods") == "VALID", "queue pods VALID")
    mount = [{"name": "work", "mountPath": "/work"}]
    resources = {"limits": {"cpu": "1", "memory": "128Mi"}}
    pod = {
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [
            {
                "name": "fetch",
                "image": PYTHON,
                "command": ["sh", "-c", "echo fetched > /work/data"],
                "volumeMounts": mount,
                "resources": resources,
            }
        ],
        "containers": [
            {
                "name": "main",
                "image": PYTHON,
                "command": ["sh", "-c"],
                "args": ["cat /work/data"],
                "volumeMounts": mount,
                "resources": resources,
            }
        ],
    }
    account.batch.register_job_definition(
        jobDefinitionName="pod", type="container", eksProperties={"podProperties": pod}
    )
    job = account.wait_for(account.submit("pods", "pod"))
    properties = job["eksProperties"]["podProperties"]
    assert job["status"] == "SUCCEEDED", properties
    assert properties["initContainers"][0]["exitCode"] == 0 and properties["containers"][0]["exitCode"] == 0
    assert job["eksAttempts"][0]["podName"] == properties["podName"]
    import docker

    client = docker.from_env()
    job_id = job["jobId"]
    account.wait_until(
        lambda: not client.volumes.list(filters={"label": f"batchemu.job-id={job_id}"}),
        "the emptyDir removed",
    )

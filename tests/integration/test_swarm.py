"""Jobs on a 3-node Docker Swarm made on this machine by scripts/local-swarm (issue 14), seen through boto3:
an array job spread over container instances with every log in CloudWatch Logs, a multi-node parallel job
whose nodes talk TCP to the main node across hosts, a drained node's attempt retried elsewhere, a
multi-container task on one node with its sidecar on localhost, and the Docker runner's outcomes (exit code,
missing image, OOM, terminate with no container left running, re-attach). One swarm for the module."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from batchemu.runners.base import ContainerSpec, Phase
from batchemu.runners.swarm_state import container_instance_key
from tests.integration.test_jobs_on_docker import Account
from tests.integration.test_multi_container_on_docker import stream_messages

pytestmark = pytest.mark.docker

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-swarm"
BUSYBOX = "batchemu-test/busybox:latest"
NODES = 3


class LocalSwarm:
    """A swarm brought up by scripts/local-swarm with names and a subnet of its own."""

    def __init__(self) -> None:
        tag = os.getpid() % 100
        self.environment = {
            **os.environ,
            "BATCHEMU_SWARM_PREFIX": f"bt{tag}",
            "BATCHEMU_SWARM_DIR": f"/tmp/batchemu-swarm-test-{tag}",
            "BATCHEMU_SWARM_SUBNET": f"10.213.{100 + tag}",
        }
        self.host_ip = f"10.213.{100 + tag}.1"
        self.docker_host = ""

    def run(self, *arguments: str) -> str:
        done = subprocess.run(
            [str(SCRIPT), *arguments], env=self.environment, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"local-swarm {' '.join(arguments)} failed:\n{done.stderr}"
        return done.stdout

    def up(self) -> None:
        self.run("down")  # what a crashed earlier run of this process id left
        last = self.run("up", str(NODES)).strip().splitlines()[-1]
        assert last.startswith("DOCKER_HOST=unix://"), last
        self.docker_host = last.split("=", 1)[1]
        self.run("load", BUSYBOX)

    def kill_node(self, node: dict[str, Any]) -> None:
        """SIGKILL the dockerd of a node, as a host that dies does."""
        number = node["Description"]["Engine"]["Labels"]["batchemu.local-swarm-node"]
        pid = int(
            (Path(self.environment["BATCHEMU_SWARM_DIR"]) / f"node{number}" / "launcher.pid").read_text()
        )
        os.kill(pid, 9)

    def api(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=30).api

    def running_containers(self, job_id: str) -> list[str]:
        """The ids of the job's containers running on any node, asked of each node's own engine."""
        import docker

        found = []
        for number in range(1, NODES + 1):
            socket = Path(self.environment["BATCHEMU_SWARM_DIR"]) / f"node{number}" / "docker.sock"
            if not socket.exists():
                continue
            try:
                api = docker.DockerClient(base_url=f"unix://{socket}", timeout=10).api
                found += [c["Id"] for c in api.containers(filters={"label": f"batchemu.job-id={job_id}"})]
            except Exception:  # a node killed by an earlier test
                continue
        return found


def _can_run_a_local_swarm() -> str | None:
    if os.geteuid() != 0:
        return "scripts/local-swarm needs root"
    missing = [tool for tool in ("dockerd", "docker", "ip", "iptables", "nsenter") if not shutil.which(tool)]
    return f"scripts/local-swarm needs {', '.join(missing)}" if missing else None


def _install_network_tools() -> None:
    """CI machines may lack iproute2 (ip) or util-linux (nsenter): install them, as docker-setup does."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=environment, capture_output=True, timeout=300)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "iproute2", "iptables", "util-linux"],
        env=environment,
        capture_output=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def swarm(docker_engine: None) -> Iterator[LocalSwarm]:
    reason = _can_run_a_local_swarm()
    if reason is not None and os.geteuid() == 0 and os.environ.get("CI", "").lower() == "true":
        _install_network_tools()
        reason = _can_run_a_local_swarm()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}, and under CI=true the swarm tests must run")
        pytest.skip(reason)
    swarm = LocalSwarm()
    swarm.up()
    try:
        yield swarm
    finally:
        swarm.run("down")


@pytest.fixture(scope="module")
def account(swarm: LocalSwarm) -> Iterator[Account]:
    settings = Settings(runner="swarm", docker_host=swarm.docker_host)
    with ServerThread(Emulator(settings), host=swarm.host_ip) as server:
        yield Account(server)


@pytest.fixture(scope="module")
def queue(account: Account) -> str:
    return account.create_queue("swarm", max_vcpus=30)


@pytest.fixture(scope="module")
def overlay_account(swarm: LocalSwarm) -> Iterator[Account]:
    """A second server whose job containers run on an attachable overlay network, not the nodes' own."""
    api = swarm.api()
    network = api.create_network(f"bt-jobs-{os.getpid()}", driver="overlay", attachable=True)
    try:
        settings = Settings(runner="swarm", docker_host=swarm.docker_host, docker_network=network["Id"])
        with ServerThread(Emulator(settings), host=swarm.host_ip) as server:
            yield Account(server)
    finally:
        api.remove_network(network["Id"])


def _instances(jobs: list[dict[str, Any]]) -> set[str]:
    return {job["container"]["containerInstanceArn"] for job in jobs}


def test_an_array_of_thirty_runs_on_several_container_instances_with_every_log_in_cloudwatch(
    account: Account, queue: str
) -> None:
    account.define("spread", ["sh", "-c", "echo index=$AWS_BATCH_JOB_ARRAY_INDEX; sleep 1"], memory=32)
    parent = account.submit(queue, "spread", arrayProperties={"size": 30})
    assert account.wait_for(parent, deadline=120)["status"] == "SUCCEEDED"
    children = account.batch.describe_jobs(jobs=[f"{parent}:{index}" for index in range(30)])["jobs"]
    assert {child["status"] for child in children} == {"SUCCEEDED"}
    assert len(_instances(children)) >= 2
    for child in children:
        assert account.log_messages(child) == [f"index={child['arrayProperties']['index']}"]


# Each peer retries until the main node answers "ack" (a connection that only reached the listen backlog is
# dropped when that nc exits); the main node listens until it has heard both peers, then lingers a moment
# so its peers end first.
MAIN_NODE = (
    "touch /tmp/heard; until [ $(sort -u /tmp/heard | wc -l) = 2 ]; "
    "do echo ack | nc -l -p 9000 >>/tmp/heard; done; sort -u /tmp/heard; echo main heard its peers; sleep 3"
)
OTHER_NODE = (
    'until echo "hello from node $AWS_BATCH_JOB_NODE_INDEX" '
    "| nc -w 1 $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 9000 >/tmp/reply; grep -q ack /tmp/reply; "
    "do sleep 0.2; done; echo sent"
)


def test_a_multi_node_job_on_three_hosts_reaches_its_main_node_over_tcp(account: Account, queue: str) -> None:
    def group(nodes: str, script: str) -> dict[str, Any]:
        return {
            "targetNodes": nodes,
            "container": {
                "image": BUSYBOX,
                "command": ["sh", "-c", script],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "32"}],
            },
        }

    account.batch.register_job_definition(
        jobDefinitionName="talk",
        type="multinode",
        nodeProperties={
            "numNodes": 3,
            "mainNode": 0,
            "nodeRangeProperties": [group("0", MAIN_NODE), group("1:2", OTHER_NODE)],
        },
    )
    parent = account.submit(queue, "talk")
    ids = [f"{parent}#{index}" for index in range(3)]
    try:
        ended = account.wait_for(parent, deadline=90)
    except AssertionError as error:
        raise AssertionError(f"{error}; its nodes: {_outcome(account, ids)}") from None
    nodes = account.batch.describe_jobs(jobs=ids)["jobs"]
    outcome = _outcome(account, ids)
    assert ended["status"] == "SUCCEEDED", outcome
    main = next(node for node in nodes if node["nodeDetails"]["nodeIndex"] == 0)
    assert sorted(account.log_messages(main)) == [
        "hello from node 1",
        "hello from node 2",
        "main heard its peers",
    ]
    assert len(_instances(nodes)) == 3, outcome


def test_draining_the_node_of_a_running_attempt_retries_it_elsewhere(
    account: Account, queue: str, swarm: LocalSwarm
) -> None:
    account.define("drained", ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" = 2 ] || sleep 120; echo second'])
    job_id = account.submit(queue, "drained", retryStrategy={"attempts": 2})
    account.wait_for(job_id, ("RUNNING",))
    api = swarm.api()
    node_id = _node_running(api, job_id)
    _set_availability(api, node_id, "drain")
    try:
        job = account.wait_for(job_id, deadline=60)
    finally:
        _set_availability(api, node_id, "active")
    assert job["status"] == "SUCCEEDED"
    first, second = job["attempts"]
    assert first["statusReason"].startswith("Host EC2 (instance i-")
    assert first["statusReason"].endswith(") terminated.")
    assert first["container"]["containerInstanceArn"] != second["container"]["containerInstanceArn"]


def _outcome(account: Account, ids: list[str]) -> list[tuple[str, str | None, str | None]]:
    jobs = account.batch.describe_jobs(jobs=ids)["jobs"]
    return [(job["status"], job.get("statusReason"), job["container"].get("reason")) for job in jobs]


def _set_availability(api: Any, node_id: str, availability: str) -> None:
    spec = api.inspect_node(node_id)
    api.update_node(node_id, spec["Version"]["Index"], {**spec["Spec"], "Availability": availability})


def _node_running(api: Any, job_id: str) -> str:
    services = api.services(filters={"label": f"batchemu.job-id={job_id}"})
    tasks = api.tasks(filters={"service": services[0]["ID"]})
    return str(tasks[0]["NodeID"])


def test_exit_codes_missing_images_oom_and_terminate_are_as_on_docker(
    account: Account, queue: str, swarm: LocalSwarm
) -> None:
    account.define("exit-three", ["sh", "-c", "echo about to fail; exit 3"])
    account.define("missing-image", ["true"], image="batchemu-test/does-not-exist:latest")
    account.define("memory-hog", ["sh", "-c", "head -c 300m /dev/zero | tail"], memory=32)
    account.define("sleeper", ["sleep", "300"])
    jobs = {
        name: account.submit(queue, name) for name in ("exit-three", "missing-image", "memory-hog", "sleeper")
    }
    account.wait_for(jobs["sleeper"], ("RUNNING",))
    account.batch.terminate_job(jobId=jobs["sleeper"], reason="enough")

    failed = account.wait_for(jobs["exit-three"])
    assert (failed["status"], failed["statusReason"], failed["container"]["exitCode"]) == (
        "FAILED",
        "Essential container in task exited",
        3,
    )
    assert account.log_messages(failed) == ["about to fail"]
    missing = account.wait_for(jobs["missing-image"])
    assert missing["statusReason"] == "Task failed to start"
    assert missing["container"]["reason"].startswith("CannotPullContainerError: ")
    hog = account.wait_for(jobs["memory-hog"])
    assert hog["container"]["reason"].startswith("OutOfMemoryError")
    terminated = account.wait_for(jobs["sleeper"])
    assert (terminated["status"], terminated["statusReason"], terminated["container"]["exitCode"]) == (
        "FAILED",
        "enough",
        137,
    )
    account.wait_until(lambda: not swarm.running_containers(jobs["sleeper"]), "the sleeper stopped")


# The sidecar's shell traps SIGTERM (the signal a task's other containers get when its essential one exits)
# and says so; its HTTP server serves the main container on the node's localhost.
SIDECAR = 'trap "echo SIGTERM: stopping; exit 0" TERM; echo serving; httpd -f -v -p {port} -h /etc & wait'
MAIN = "until wget -q -O /dev/null http://127.0.0.1:{port}/passwd; do sleep 0.2; done; echo got the page"


def task_container(name: str, script: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": BUSYBOX,
        "command": ["sh", "-c", script.format(port=port)],
        "resourceRequirements": [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "32"}],
        **extra,
    }


def test_a_task_runs_its_containers_on_one_node_sharing_localhost_and_ends_with_its_essential_one(
    account: Account, queue: str, swarm: LocalSwarm
) -> None:
    port = random.randint(20000, 40000)

    main = task_container("main", MAIN, port, dependsOn=[{"containerName": "server", "condition": "START"}])
    server = task_container("server", SIDECAR, port, essential=False, stopTimeout=5)
    account.batch.register_job_definition(
        jobDefinitionName="swarm-sidecar",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [main, server]}]},
    )
    job = account.wait_for(account.submit(queue, "swarm-sidecar"), deadline=90)
    found = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert (job["status"], job["statusReason"]) == ("SUCCEEDED", "Essential container in task exited"), found
    assert "container" not in job or not job["container"]
    # swarm forgets a task as it stops it: a stopped container's own exit code is not known (137)
    assert (found["main"]["exitCode"], found["server"]["exitCode"]) == (0, 137)
    assert stream_messages(account, found["main"]["logStreamName"]) == ["got the page"]
    served = stream_messages(account, found["server"]["logStreamName"])
    assert served[0] == "serving" and served[-1] == "SIGTERM: stopping", served
    assert any("response:200" in line for line in served), served
    account.wait_until(lambda: not swarm.running_containers(job["jobId"]), "no container of the task runs")


def test_off_the_host_network_the_containers_of_a_task_reach_each_other_by_name(
    overlay_account: Account,
) -> None:
    """Swarm services cannot share a network namespace: on an overlay network a task's containers are on
    one node and on a network of the task's own, where each is known by its container name."""
    account = overlay_account
    queue = account.create_queue("swarm-overlay", max_vcpus=8)
    port = random.randint(20000, 40000)

    main = task_container(
        "main",
        MAIN.replace("127.0.0.1", "server"),
        port,
        dependsOn=[{"containerName": "server", "condition": "START"}],
    )
    server = task_container("server", SIDECAR, port, essential=False, stopTimeout=2)
    account.batch.register_job_definition(
        jobDefinitionName="overlay-sidecar",
        type="container",
        ecsProperties={"taskProperties": [{"containers": [main, server]}]},
    )
    job = account.wait_for(account.submit(queue, "overlay-sidecar"), deadline=90)
    found = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    outcome = {name: (c.get("exitCode"), c.get("reason")) for name, c in found.items()}
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), outcome)
    assert stream_messages(account, found["main"]["logStreamName"]) == ["got the page"]


def test_a_new_runner_re_attaches_to_a_running_service_by_label(swarm: LocalSwarm) -> None:
    from batchemu.runners.swarm import SwarmRunner

    spec = ContainerSpec(
        job_id=f"reattach-{os.getpid()}",
        attempt=1,
        image=BUSYBOX,
        command=["sh", "-c", "echo before; sleep 2; echo after"],
        environment={"AWS_BATCH_CE_NAME": "swarm-ce"},
        vcpus=0.5,
        memory_mib=32,
    )
    first = SwarmRunner("http://127.0.0.1:1", docker_host=swarm.docker_host, stop_on_close=False)
    first.start(spec)
    first.close()
    second = SwarmRunner("http://127.0.0.1:1", docker_host=swarm.docker_host)
    try:
        handle = _wait_for_service(second, spec.job_id)
        give_up = time.monotonic() + 30
        while second.poll(handle).phase is not Phase.EXITED:
            assert time.monotonic() < give_up, "the re-attached service never ended"
            time.sleep(0.1)
        assert second.poll(handle).exit_code == 0
        assert [event.message for event in second.logs(handle, 0)] == ["before", "after"]
        assert second.container_instance_id(handle) is not None
        second.release(handle)
    finally:
        second.close()


def test_a_runner_that_closes_stops_the_containers_of_its_running_attempts(swarm: LocalSwarm) -> None:
    from batchemu.runners.swarm import SwarmRunner

    spec = ContainerSpec(
        job_id=f"closing-{os.getpid()}",
        attempt=1,
        image=BUSYBOX,
        command=["sleep", "300"],
        environment={"AWS_BATCH_CE_NAME": "swarm-ce"},
        vcpus=0.5,
        memory_mib=32,
    )
    runner = SwarmRunner("http://127.0.0.1:1", docker_host=swarm.docker_host)
    handle = runner.start(spec)
    give_up = time.monotonic() + 30
    while runner.poll(handle).phase is not Phase.RUNNING:
        assert time.monotonic() < give_up, "the service never ran"
        time.sleep(0.1)
    runner.close()
    Account.wait_until(lambda: not swarm.running_containers(spec.job_id), "no container of it running")


def test_a_node_that_goes_down_fails_its_attempt_as_a_terminated_host_and_it_retries(
    account: Account, queue: str, swarm: LocalSwarm
) -> None:
    """Last in the module: the killed node stays down (local-swarm down cleans up after it)."""
    account.define("lost", ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" = 2 ] || sleep 120; echo second'])
    api = swarm.api()
    manager = api.nodes(filters={"role": "manager"})[0]
    _set_availability(api, manager["ID"], "drain")  # the swarm lives on: a worker goes down
    job_id = account.submit(queue, "lost", retryStrategy={"attempts": 2})
    account.wait_for(job_id, ("RUNNING",))
    _set_availability(api, manager["ID"], "active")
    arn = account.describe(job_id)["container"]["containerInstanceArn"]
    killed = next(node for node in api.nodes() if arn.endswith(container_instance_key(node["ID"])))
    swarm.kill_node(killed)
    job = account.wait_for(job_id, deadline=90)
    assert job["status"] == "SUCCEEDED"
    first, second = job["attempts"]
    assert first["statusReason"].startswith("Host EC2 (instance i-")
    assert first["container"]["containerInstanceArn"] != second["container"]["containerInstanceArn"]


def _wait_for_service(runner: Any, job_id: str) -> Any:
    give_up = time.monotonic() + 10
    while (handle := runner.find_running(job_id, 1)) is None:
        assert time.monotonic() < give_up, "no service carries the job's labels"
        time.sleep(0.1)
    return handle

"""Runs each attempt as a Docker Swarm service in `replicated-job` mode (one task, no restart) through a
swarm manager: exit code, OOM, kill on stop, service logs, re-attach by label; each swarm node is a
container instance; a node that goes down or is drained fails its attempts as a lost EC2 host does; the
nodes of a multi-node parallel job share an attachable overlay network; the containers of a multi-container
task run on one node. The steps every engine runner shares are runners/container_runner.py's: every engine
call happens on its thread pool, so start(), poll(), stop() and logs() return at once. Imports runners.*
only."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from batchemu.runners.base import ContainerSpec, Phase, RunState
from batchemu.runners.container_runner import ContainerAttempt, ContainerRunner, daemon_reason, quietly
from batchemu.runners.docker_logs import absorb_log_lines, log_since
from batchemu.runners.ownership import ATTEMPT_LABEL
from batchemu.runners.process import KILLED_EXIT_CODE
from batchemu.runners.swarm_networks import MNP_NETWORK_LABEL, TASK_NETWORK_LABEL, OverlayNetworks
from batchemu.runners.swarm_options import UnsupportedOnSwarm, ce_constraint, service_arguments
from batchemu.runners.swarm_services import node_of_service, stop_job_task, wait_for_task_end
from batchemu.runners.swarm_state import (
    HOST_TERMINATED,
    LIVE_TASK_STATES,
    SwarmNode,
    container_instance_key,
    demultiplex,
    exit_state,
    node_of,
    reachable_endpoint,
    rejected_reason,
    transient_rejection,
)

log = logging.getLogger("batchemu.runners.swarm")

_NODES_SECONDS = 1.0  # how often the node list (health, capacity, lost hosts) is refreshed
_RELAUNCHES = 60  # how often a task swarm rejected for a passing reason is created again
_RELAUNCH_PAUSE_SECONDS = 1.0
_LOGS_TIMEOUT_SECONDS = 5
_SHARED_NETWORKS = ("host", "none")  # a task's containers on one node share these already (or need none)
_TASK_NETWORK_REMOVE_TRIES = 480  # two minutes
_PLACEMENT_WAIT_SECONDS = 30.0  # for the node of a task's first container
_STOP_SLACK_SECONDS = 10.0  # beyond a task container's stopTimeout, for swarm to stop it


@dataclass(eq=False)
class SwarmAttempt(ContainerAttempt):
    """The handle start() returns: the attempt's service, its task and the node that task runs on."""

    service_id: str | None = None
    task_id: str | None = None
    node_id: str | None = None
    network: str | None = None  # the overlay network of a multi-node parallel job
    task_network: str | None = None  # the network of its task, off the host network
    spec: ContainerSpec | None = None
    relaunches: int = 0
    # the placement constraint of a multi-node job's node, or of a task container: its first's node
    own_host: list[str] | None = None

    @property
    def engine_id(self) -> str | None:
        return self.service_id


@dataclass(eq=False)
class _TaskPlace:
    """Where the containers of one multi-container attempt run: the node of the first one created."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    first: SwarmAttempt | None = None  # the container that chose the node
    node_id: str | None = None


class SwarmRunner(ContainerRunner[SwarmAttempt]):
    """A Runner on a Docker Swarm. `docker_host` names the manager (else DOCKER_HOST / the local
    engine); `job_endpoint`, when given, is where jobs reach the emulator, else it is derived from the
    address this machine uses toward the manager (see docs/scale-out.md)."""

    name = "swarm"
    refresh_seconds = 0.25  # at most one task listing (+ log read) per attempt this often

    def __init__(
        self,
        endpoint: str,
        docker_host: str | None = None,
        job_endpoint: str | None = None,
        network: str = "host",
        keep_services: bool = False,
        workers: int = 6,
        on_change: Callable[[], None] | None = None,
        stop_on_close: bool = True,
    ) -> None:
        self._client = _client(docker_host, timeout=30)
        # Logs of a task on a node that just died never finish arriving: give up on a read soon.
        self._logs_client = _client(docker_host, timeout=_LOGS_TIMEOUT_SECONDS)
        swarm = self._client.info().get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            state = swarm.get("LocalNodeState") or "unknown"
            raise RuntimeError(f"the engine is not a swarm manager (swarm state: {state})")
        super().__init__(workers, on_change, stop_on_close)
        self._manager_address = str(swarm.get("NodeAddr") or "")
        self._job_endpoint = job_endpoint
        self._endpoint = job_endpoint or endpoint
        self._network = network
        self._keep_services = keep_services
        # by MNP parent job id; by task (job id/attempt) off the host network
        self._networks = OverlayNetworks(self._client.api, self._closing, "batchemu-mnp", MNP_NETWORK_LABEL)
        self._task_networks = OverlayNetworks(
            self._client.api, self._closing, "batchemu-task", TASK_NETWORK_LABEL
        )
        self._hosts_taken: dict[str, set[str]] = {}  # MNP parent job id -> swarm nodes its nodes run on
        self._task_places: dict[tuple[str, int], _TaskPlace] = {}  # (job id, attempt) of a task
        self._nodes: dict[str, SwarmNode] = {}
        self._unavailable: str | None = None
        self._refresh_nodes()
        threading.Thread(target=self._watch_nodes, name="batchemu-swarm-nodes", daemon=True).start()

    # -- optional runner methods the emulator uses ---------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """None while the manager answers and some node takes work, else why not (refreshed in the
        background every second, so the scheduler can ask on every tick)."""
        return self._unavailable

    def set_endpoint(self, endpoint: str) -> None:
        """Where the emulator listens; jobs on other hosts cannot use a loopback address, so that is
        replaced by the address this machine has toward the swarm manager (unless --job-endpoint)."""
        if self._job_endpoint is not None:
            return
        self._endpoint = reachable_endpoint(endpoint, self._manager_address)
        if self._endpoint != endpoint:
            log.warning(
                "jobs reach the emulator at %s (this machine's address toward the swarm manager); the "
                "emulator must listen there (--host 0.0.0.0 or that address), or set --job-endpoint",
                self._endpoint,
            )

    def capacity(self, compute_environment: str) -> list[SwarmNode]:
        """The nodes that take work for `compute_environment`: all usable nodes, or those labelled
        `batchemu.ce.<name>=true` when any node is."""
        nodes = [node for node in self._nodes.values() if node.usable]
        constraint = ce_constraint(compute_environment, [node.labels for node in self._nodes.values()])
        if constraint:
            label = constraint[0].split("node.labels.", 1)[1].split("==", 1)[0]
            nodes = [node for node in nodes if node.labels.get(label) == "true"]
        return nodes

    def container_instance_id(self, handle: SwarmAttempt) -> str | None:
        """The container instance (swarm node) the attempt runs on, once known."""
        return container_instance_key(handle.node_id) if handle.node_id else None

    # -- the engine's steps: the shared ones' parts --------------------------------------------------
    def _new_attempt(self, spec: ContainerSpec) -> SwarmAttempt:
        return SwarmAttempt(spec.job_id, spec.attempt, spec=spec)

    def _end(self, attempt: SwarmAttempt) -> None:
        self._stop_service(attempt)

    def _halt_one(self, attempt: SwarmAttempt, deadline: float) -> None:
        self._stop_service(attempt, wait=False)

    def _let_go(self, handle: SwarmAttempt) -> None:
        """Removes its service (unless keep_services) and, after the last node of a multi-node job, its
        overlay network."""
        if handle.service_id is not None and not self._keep_services:
            self._submit(self._remove_service, handle.service_id)
        if handle.spec is not None and handle.spec.in_task:
            key = (handle.job_id, handle.attempt)
            with self._lock:
                last = not any((other.job_id, other.attempt) == key for other in self._live)
                if last:
                    self._task_places.pop(key, None)
            task_network = self._task_networks.forget(_task_key(handle.spec)) if last else None
            if task_network is not None:  # its tasks may detach slowly: not on the pool, where it would wait
                threading.Thread(
                    target=self._task_networks.remove,
                    args=(task_network, _TASK_NETWORK_REMOVE_TRIES),
                    name="batchemu-swarm-network",
                    daemon=True,
                ).start()
        if handle.network is not None:
            parent = handle.job_id.split("#", 1)[0]
            with self._lock:
                busy = any(other.job_id.startswith(parent + "#") for other in self._live)
                if not busy:
                    self._hosts_taken.pop(parent, None)
            network_id = None if busy else self._networks.forget(parent)
            if network_id is not None:
                self._submit(self._networks.remove, network_id)

    def _find(self, job_id: str, attempt: int | None, labels: list[str]) -> SwarmAttempt | None:
        """The newest service with these labels."""
        found = self._client.api.services(filters={"label": labels})
        if not found:
            return None
        found.sort(key=lambda service: service.get("CreatedAt", ""), reverse=True)
        service = found[0]
        labels_of = service.get("Spec", {}).get("Labels", {})
        handle = SwarmAttempt(
            job_id, int(labels_of.get(ATTEMPT_LABEL, attempt or 1)), service_id=service["ID"]
        )
        if "#" in job_id:
            handle.network = self._networks.find(job_id.split("#", 1)[0])
        return handle

    def _clean_up(self, attempt: SwarmAttempt) -> None:
        if attempt.service_id is not None and not self._keep_services:
            if not attempt.finished:
                stop_job_task(self._client.api, attempt.service_id)
            self._remove_service(attempt.service_id)

    def _closed(self, kept_running: bool) -> None:
        """The overlay networks of multi-node jobs go too, unless their services were left running."""
        if not kept_running:
            for networks in (self._networks, self._task_networks):
                for network_id in networks.forget_all():
                    networks.remove(network_id)

    # -- starting ------------------------------------------------------------------------------------
    def _begin(self, attempt: SwarmAttempt, spec: ContainerSpec) -> None:
        if self._abandoned(attempt):
            return
        if not spec.in_task:
            self._create(attempt, spec)
            return
        # The containers of a task run on one node, as an ECS task's do on one instance (on the host
        # network they then share localhost): the first is placed by swarm, the others beside it.
        place = self._place_of(spec)
        with place.lock:
            if place.first is None or place.first is attempt:  # the first (or its relaunch)
                place.first = attempt
                self._create(attempt, spec)
                if attempt.service_id is not None and place.node_id is None:
                    place.node_id = self._node_of(attempt.service_id)
                    if place.node_id is not None:  # a relaunch of this first container stays there too
                        attempt.own_host = [f"node.id=={place.node_id}"]
                return
            if place.node_id is None and place.first.service_id is not None:
                place.node_id = self._node_of(place.first.service_id)
            if place.node_id is None:
                self._fail(attempt, "CannotStartContainerError: the task's first container has no node")
                return
            attempt.own_host = attempt.own_host or [f"node.id=={place.node_id}"]
            self._create(attempt, spec)

    def _node_of(self, service_id: str) -> str | None:
        return node_of_service(self._client.api, service_id, _PLACEMENT_WAIT_SECONDS, self._closing)

    def _create(self, attempt: SwarmAttempt, spec: ContainerSpec) -> None:
        network = self._network
        compute_environment = spec.environment.get("AWS_BATCH_CE_NAME", "")
        constraints = ce_constraint(compute_environment, [node.labels for node in self._nodes.values()])
        if "AWS_BATCH_JOB_NODE_INDEX" in spec.environment and "#" in spec.job_id:
            parent_id = spec.job_id.split("#", 1)[0]
            network = attempt.network = self._networks.network_for(parent_id)
            spec = self._with_main_node_address(spec, network)
            if attempt.own_host is None:  # kept when swarm's rejection makes the service again
                attempt.own_host = self._own_host(parent_id, compute_environment)
        constraints = constraints + (attempt.own_host or [])
        if spec.in_task and network not in _SHARED_NETWORKS:
            attempt.task_network = self._task_networks.network_for(_task_key(spec))
        try:
            arguments = service_arguments(spec, self._endpoint, network, constraints, attempt.task_network)
            created = self._client.api.create_service(**arguments)
        except UnsupportedOnSwarm as error:
            self._fail(attempt, f"CannotCreateContainerError: {error}")
            return
        except (APIError, DockerException) as error:
            self._fail(attempt, daemon_reason("CannotCreateContainerError", error))
            return
        with attempt.lock:
            attempt.service_id = created["ID"]
        if attempt.stop_requested or attempt.released:  # stop() or release() came while creating
            self._stop_service(attempt)

    def _place_of(self, spec: ContainerSpec) -> _TaskPlace:
        with self._lock:
            return self._task_places.setdefault((spec.job_id, spec.attempt), _TaskPlace())

    def _own_host(self, parent_id: str, compute_environment: str) -> list[str]:
        """As on AWS, each node of a multi-node job gets an instance of its own: the least busy node
        none of its other nodes has, while there is one."""
        with self._lock:
            taken = self._hosts_taken.setdefault(parent_id, set())
            busy: dict[str, int] = {}
            for other in self._live:
                if other.node_id:
                    busy[other.node_id] = busy.get(other.node_id, 0) + 1
            free = [node for node in self.capacity(compute_environment) if node.node_id not in taken]
            if not free:
                return []
            choice = min(free, key=lambda node: (busy.get(node.node_id, 0), node.node_id))
            taken.add(choice.node_id)
            return [f"node.id=={choice.node_id}"]

    def _with_main_node_address(self, spec: ContainerSpec, network_id: str) -> ContainerSpec:
        """AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS: the main node's address on the overlay network
        (the other nodes start only once the main node runs, so its task has one)."""
        environment = spec.environment
        if "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in environment:
            return spec
        main_id = f"{spec.job_id.split('#', 1)[0]}#{environment.get('AWS_BATCH_JOB_MAIN_NODE_INDEX', '0')}"
        address = self._networks.task_address(main_id, network_id)
        if address is None:
            raise RuntimeError(f"the main node {main_id} has no address on its overlay network")
        return dataclasses.replace(
            spec, environment={**environment, "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS": address}
        )

    # -- watching ------------------------------------------------------------------------------------
    def _look(self, attempt: SwarmAttempt) -> None:
        try:
            task = self._task_of(attempt)
            if task is not None:
                self._follow(attempt, task)
        except Exception as error:  # the manager went away, a log read timed out: try again later
            log.warning("could not follow the service of job %s: %s", attempt.job_id, error)

    def _task_of(self, attempt: SwarmAttempt) -> dict[str, Any] | None:
        """The attempt's task: the first one swarm made for its service (a replacement swarm may make
        after a lost node is never run: the attempt has ended by then)."""
        assert attempt.service_id is not None
        try:
            tasks = self._client.api.tasks(filters={"service": attempt.service_id})
        except NotFound:
            tasks = []
        if not tasks:
            if not self._service_exists(attempt.service_id):
                self._settle(
                    attempt,
                    RunState(Phase.EXITED, reason="CannotInspectContainerError: the task was removed"),
                )
            return None
        tasks.sort(key=lambda task: task.get("CreatedAt", ""))
        chosen = next((task for task in tasks if task["ID"] == attempt.task_id), tasks[0])
        with attempt.lock:
            attempt.task_id = chosen["ID"]
            attempt.node_id = chosen.get("NodeID") or attempt.node_id
        return chosen

    def _follow(self, attempt: SwarmAttempt, task: dict[str, Any]) -> None:
        status = task.get("Status") or {}
        state = status.get("State", "")
        lost = self._lost_node(attempt.node_id)
        log.debug(
            "job %s: task %s %s on %s (lost: %s)", attempt.job_id, task["ID"], state, attempt.node_id, lost
        )
        if lost is not None and state in LIVE_TASK_STATES and not attempt.stop_requested:
            self._host_lost(attempt, lost)
        elif state == "running":
            self._read_logs(attempt)
            self._settle(attempt, RunState(Phase.RUNNING))
        elif state in ("complete", "failed"):
            self._read_logs(attempt)
            # a task's container is stopped with SIGTERM first: the exit code it gives then is its own
            in_task = attempt.spec is not None and attempt.spec.in_task
            self._settle(attempt, exit_state(status, attempt.stop_requested, graceful=in_task))
            self._finished_with(attempt)
        elif state == "rejected" and attempt.state.phase is Phase.RUNNING and not attempt.stop_requested:
            # it ran, and swarm took it off its node (the node went away or no longer qualifies)
            self._host_lost(attempt, self._nodes.get(attempt.node_id or ""))
        elif (
            state == "rejected"
            and transient_rejection(status)
            and attempt.relaunches < _RELAUNCHES
            and attempt.spec
        ):
            self._relaunch(attempt)
        elif state == "rejected":
            self._fail(attempt, rejected_reason(str(status.get("Err") or "task rejected")))
            self._finished_with(attempt)
        elif state in ("shutdown", "orphaned", "remove") and not attempt.stop_requested:
            self._host_lost(attempt, self._nodes.get(attempt.node_id or ""))

    def _finished_with(self, attempt: SwarmAttempt) -> None:
        """The task ended and its logs are read: remove its service now, not at release, because swarm
        keeps counting a finished job task's reservations against its node until then (its constraint
        enforcer then rejects new tasks there)."""
        if attempt.service_id is not None and not self._keep_services:
            self._remove_service(attempt.service_id)

    def _relaunch(self, attempt: SwarmAttempt) -> None:
        """Swarm rejected the task for a passing reason (its node's reservations were briefly
        overcommitted): a fresh service for the same attempt; it never ran, so nothing is repeated."""
        service_id = attempt.service_id
        assert service_id is not None and attempt.spec is not None
        log.info("job %s: swarm rejected its task for now; creating its service again", attempt.job_id)
        with attempt.lock:
            attempt.relaunches += 1
            attempt.service_id = attempt.task_id = attempt.node_id = None
        self._remove_service(service_id)
        self._closing.wait(_RELAUNCH_PAUSE_SECONDS)  # on a pool thread, never the scheduler's
        self._guarded(self._begin, attempt, attempt.spec)

    def _lost_node(self, node_id: str | None) -> SwarmNode | None:
        """The node, when it went down or was drained (a removed node counts as lost too). The node list
        may be a second old (a node made active again looks drained): a lost node is looked up again."""
        if not node_id:
            return None
        node = self._nodes.get(node_id)
        if node is not None and node.usable:
            return None
        try:
            node = node_of(self._client.api.inspect_node(node_id))
        except NotFound:
            return SwarmNode(node_id, "", 0.0, 0, {}, ready=False, active=False)
        return None if node.usable else node

    def _host_lost(self, attempt: SwarmAttempt, node: SwarmNode | None) -> None:
        """As AWS reports work on an EC2 instance that went away; the service is removed so swarm does
        not run the attempt again elsewhere (the scheduler retries it per the job's retry strategy)."""
        node = node or SwarmNode(attempt.node_id or "unknown", "", 0.0, 0, {}, ready=False, active=False)
        reason = HOST_TERMINATED.format(instance=node.instance_id)
        log.warning(
            "job %s attempt %d: %s (swarm node %s)", attempt.job_id, attempt.attempt, reason, node.node_id
        )
        if attempt.service_id is not None:
            self._remove_service(attempt.service_id)
        self._settle(attempt, RunState(Phase.EXITED, reason=reason, status_reason=reason))

    def _read_logs(self, attempt: SwarmAttempt) -> None:
        """Not through the SDK's service_logs(): it streams with the socket timeout turned off, and the
        logs of a task on a node that just died never finish arriving; a plain request times out."""
        assert attempt.service_id is not None
        params = {"stdout": "1", "stderr": "1", "timestamps": "1", "tail": "all"}
        since = log_since(attempt)
        if since is not None:
            params["since"] = f"{since:.9f}"
        api = self._logs_client.api
        response = api._get(api._url("/services/{0}/logs", attempt.service_id), params=params)
        api._raise_for_status(response)
        absorb_log_lines(attempt, demultiplex(response.content))

    # -- nodes ---------------------------------------------------------------------------------------
    def _watch_nodes(self) -> None:
        while not self._closing.wait(_NODES_SECONDS):
            self._refresh_nodes()

    def _refresh_nodes(self) -> None:
        try:
            nodes = {node.node_id: node for node in map(node_of, self._client.api.nodes())}
            reason = None if any(node.usable for node in nodes.values()) else "no swarm node takes work"
        except Exception as error:
            nodes, reason = self._nodes, f"the swarm manager does not answer ({type(error).__name__})"
        changed = reason != self._unavailable or {key: node.usable for key, node in nodes.items()} != {
            key: node.usable for key, node in self._nodes.items()
        }
        self._nodes, self._unavailable = nodes, reason
        if changed and self._on_change is not None:
            self._on_change()
        if changed:
            with self._lock:
                live = list(self._live)
            for attempt in live:
                with attempt.lock:
                    attempt.last_refresh = 0.0  # look again now: its node may be gone

    # -- ending --------------------------------------------------------------------------------------
    def _stop_service(self, attempt: SwarmAttempt, wait: bool = True) -> None:
        """Terminate, timeout, or the end of its task: swarm stops the container (a task's container with
        SIGTERM and its stopTimeout, which is waited for with its last lines read), then the service goes."""
        service_id = attempt.service_id
        if service_id is None or attempt.finished:
            return
        stop_job_task(self._client.api, service_id)
        if wait and attempt.spec is not None and attempt.spec.in_task:
            seconds = attempt.spec.stop_timeout + _STOP_SLACK_SECONDS
            wait_for_task_end(
                self._client.api, service_id, seconds, self._closing, lambda: self._read_logs(attempt)
            )
        try:
            self._read_logs(attempt)
        except Exception as error:
            log.debug("last logs of job %s: %s", attempt.job_id, error)
        self._remove_service(service_id)
        self._settle(attempt, RunState(Phase.EXITED, exit_code=KILLED_EXIT_CODE))

    def _service_exists(self, service_id: str) -> bool:
        try:
            self._client.api.inspect_service(service_id)
            return True
        except NotFound:
            return False

    def _remove_service(self, service_id: str) -> None:
        remove = self._client.api.remove_service
        quietly(f"could not remove service {service_id}", remove, service_id, level=logging.WARNING)


def _task_key(spec: ContainerSpec) -> str:
    return f"{spec.job_id}-{spec.attempt}"


def _client(docker_host: str | None, timeout: int) -> docker.DockerClient:
    if docker_host:
        return docker.DockerClient(base_url=docker_host, timeout=timeout)
    return docker.from_env(timeout=timeout)

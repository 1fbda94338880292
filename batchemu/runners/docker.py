"""Runs each attempt as a detached Docker container (docker SDK): image pull, limits, mounts, labels, exit
code and OOM, kill on stop, incremental logs, re-attach by label, the owner's labels (runners/ownership.py).
The steps every engine runner shares are runners/container_runner.py's; every Docker call happens on its
thread pool, so start(), poll(), stop() and logs() return at once. Imports runners.base/process/ownership,
container_runner and the docker_* helper modules only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from batchemu.runners import docker_orphans, ownership
from batchemu.runners.base import ContainerSpec, Phase, RunState
from batchemu.runners.container_runner import (
    OOM_REASON,
    ContainerAttempt,
    ContainerRunner,
    daemon_reason,
    quietly,
)
from batchemu.runners.docker_logs import absorb_log_lines, log_since
from batchemu.runners.docker_network import TaskNetworks, has_shared_volumes, remove_task_volumes
from batchemu.runners.docker_options import create_arguments
from batchemu.runners.ownership import ATTEMPT_LABEL, MANAGED_LABEL
from batchemu.runners.process import KILLED_EXIT_CODE

log = logging.getLogger("batchemu.runners.docker")

_HEALTH_SECONDS = 2.0  # how often the engine's availability is checked
_OOM_RECHECK_SECONDS = 1.0  # on a pool thread, never the scheduler's


@dataclass(eq=False)
class DockerAttempt(ContainerAttempt):
    """The handle start() returns: the attempt's container, once created."""

    container_id: str | None = None
    shared_volumes: bool = False  # a pod's emptyDir volumes: removed after the task's last container

    @property
    def engine_id(self) -> str | None:
        return self.container_id


class DockerRunner(ContainerRunner[DockerAttempt]):
    """A Runner on a Docker engine."""

    name = "docker"
    refresh_seconds = 0.2

    def __init__(
        self,
        endpoint: str,
        network: str = "host",
        keep_containers: bool = False,
        pull_timeout: float = 20.0,
        workers: int = 6,
        on_change: Callable[[], None] | None = None,
        stop_on_close: bool = True,
        state_id: str | None = None,
        state_path: str | None = None,
    ) -> None:
        self._client = docker.from_env()
        self._client.ping()  # fail here, clearly, when no engine answers
        own_container = docker_orphans.own_container(self._client.api)
        self.owner = ownership.this_server(own_container, state_id, keep_containers, state_path)
        super().__init__(workers, on_change, stop_on_close)
        self._pull_client = docker.from_env(timeout=max(1, int(pull_timeout)))
        self._endpoint = endpoint
        self._networks = TaskNetworks(network)
        self._keep_containers = keep_containers
        self._pull_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batchemu-docker-pull")
        self._pulls: dict[str, Future[str | None]] = {}
        self._health_client = docker.from_env(timeout=3)
        self._unavailable: str | None = None
        self._health_checked = time.monotonic()
        self._health_checking = False
        # Containers the engine reported an "oom" event for: Docker's OOMKilled flag is sometimes still
        # false when a loaded engine reports the exit, the event is not.
        self._oom_killed: set[str] = set()
        threading.Thread(target=self._watch_oom_events, name="batchemu-docker-oom", daemon=True).start()

    # -- the Runner protocol beyond the shared steps -------------------------------------------------
    def stop_gracefully(self, handle: DockerAttempt, reason: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds` (docker stop), as ECS stops a task's containers."""
        with handle.lock:
            if handle.stop_requested:
                return
            handle.stop_requested, handle.stop_grace = True, grace_seconds
            container_id = handle.container_id
        if container_id is not None:
            self._pool.submit(self._stop_container, container_id, grace_seconds)

    def _stop_container(self, container_id: str, grace_seconds: float) -> None:
        stop = self._client.api.stop
        quietly(f"stop of {container_id}", stop, container_id, timeout=max(0, int(grace_seconds)))

    def unavailable_reason(self) -> str | None:
        """None while the engine answers, else why not; refreshed in the background every few seconds,
        so the scheduler can ask on every tick."""
        now = time.monotonic()
        with self._lock:
            due = not self._health_checking and now - self._health_checked >= _HEALTH_SECONDS
            if due:
                self._health_checking = True
        if due:
            threading.Thread(target=self._check_health, name="batchemu-docker-health", daemon=True).start()
        return self._unavailable

    def _check_health(self) -> None:
        try:
            self._health_client.ping()
            reason = None
        except Exception as error:
            reason = f"the Docker engine does not answer ({type(error).__name__}); jobs wait until it does"
        if reason != self._unavailable:
            log.warning("Docker engine %s", "answers again" if reason is None else "is unavailable")
            self._unavailable = reason
            if self._on_change is not None:
                self._on_change()
        with self._lock:
            self._health_checked = time.monotonic()
            self._health_checking = False

    def set_endpoint(self, endpoint: str) -> None:
        """Where job containers reach the emulator; known once the server listens."""
        self._endpoint = endpoint

    def remove_orphans(self) -> int:
        """Removes the job containers of servers that are provably gone (runners/docker_orphans.py);
        returns how many. Blocks on the engine: call it at start-up."""
        with self._lock:
            adopted = {attempt.container_id for attempt in self._live if attempt.container_id}
        return docker_orphans.remove_orphans(self._client.api, self.owner, adopted)

    # -- the engine's steps --------------------------------------------------------------------------
    def _new_attempt(self, spec: ContainerSpec) -> DockerAttempt:
        return DockerAttempt(spec.job_id, spec.attempt, shared_volumes=has_shared_volumes(spec))

    def _let_go(self, handle: DockerAttempt) -> None:
        self._networks.forget(handle.job_id, handle.attempt, handle.container_id)
        if handle.container_id is not None and not self._keep_containers:
            self._pool.submit(self._remove, handle.container_id, handle if handle.shared_volumes else None)

    def _find(self, job_id: str, attempt: int | None, labels: list[str]) -> DockerAttempt | None:
        """Prefers a running container, else the newest."""
        found = self._client.api.containers(all=True, filters={"label": labels})
        if not found:
            return None
        found.sort(
            key=lambda summary: (summary.get("State") == "running", summary.get("Created", 0)), reverse=True
        )
        summary = found[0]
        number = int(summary.get("Labels", {}).get(ATTEMPT_LABEL, attempt or 1))
        handle = DockerAttempt(job_id, number, container_id=summary["Id"])
        handle.state = RunState(Phase.RUNNING if summary.get("State") == "running" else Phase.STARTING)
        return handle

    def _halt_one(self, attempt: DockerAttempt, deadline: float) -> None:
        container_id = attempt.container_id
        assert container_id is not None
        self._kill(container_id)
        while time.monotonic() < deadline:  # a refresh already running would read the same lines
            with attempt.lock:
                if not attempt.refreshing:
                    attempt.refreshing = True
                    break
            time.sleep(0.01)
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:  # many containers, few pool threads: killed, not waited for
                raise TimeoutError("no time left to wait")
            self._client.api.wait(container_id, timeout=max(0.2, remaining))
            state = self._client.api.inspect_container(container_id)["State"]
            self._read_logs(attempt, container_id)
            self._settle(attempt, _exit_state(state, stop_requested=True))
        except NotFound:
            self._settle(attempt, RunState(Phase.EXITED, exit_code=KILLED_EXIT_CODE))
        except Exception as error:  # the engine is slow or gone: the job still fails, without its exit
            log.warning("could not confirm that container %s stopped: %s", container_id, error)
            self._settle(attempt, RunState(Phase.EXITED, exit_code=KILLED_EXIT_CODE))
        finally:
            with attempt.lock:
                attempt.refreshing = False

    def _shut_down_pools(self) -> None:
        self._pull_pool.shutdown(wait=False, cancel_futures=True)
        super()._shut_down_pools()

    def _clean_up(self, attempt: DockerAttempt) -> None:
        if attempt.container_id is not None and not self._keep_containers:
            self._remove(attempt.container_id)
        elif attempt.container_id is not None and not attempt.finished:
            self._kill(attempt.container_id)

    # -- starting ------------------------------------------------------------------------------------
    def _begin(self, attempt: DockerAttempt, spec: ContainerSpec) -> None:
        try:
            self._client.images.get(spec.image)
        except ImageNotFound:
            pull = self._pull(spec.image)
            pull.add_done_callback(lambda done: self._after_pull(attempt, spec, done))
            return
        except (APIError, DockerException) as error:  # an invalid reference, say
            self._fail(attempt, daemon_reason("CannotPullContainerError", error))
            return
        self._launch(attempt, spec)

    def _pull(self, image: str) -> Future[str | None]:
        """One pull per image at a time, shared by every attempt waiting for it; the result is an error
        reason, or None once the image is there."""
        with self._lock:
            pending = self._pulls.get(image)
            if pending is None or pending.done():
                pending = self._pulls[image] = self._pull_pool.submit(self._pull_image, image)
            return pending

    def _pull_image(self, image: str) -> str | None:
        log.info("pulling image %s", image)
        try:
            self._pull_client.images.pull(image)
            return None
        except Exception as error:  # the registry is unreachable, the name unknown, or the pull timed out
            return daemon_reason("CannotPullContainerError", error)

    def _after_pull(self, attempt: DockerAttempt, spec: ContainerSpec, done: Future[str | None]) -> None:
        reason = done.result() if not done.cancelled() else "CannotPullContainerError: the pull was cancelled"
        if reason is not None:
            self._fail(attempt, reason)
            return
        self._submit(self._guarded, self._launch, attempt, spec)

    def _launch(self, attempt: DockerAttempt, spec: ContainerSpec) -> None:
        if self._abandoned(attempt):
            return
        with self._networks.joining(self._client.api, spec) as join:
            try:
                container = self._client.containers.create(
                    **create_arguments(spec, self._endpoint, join.network_mode, self.owner.labels())
                )
            except (APIError, DockerException, ValueError, TypeError) as error:
                self._fail(attempt, daemon_reason("CannotCreateContainerError", error))
                return
            with attempt.lock:
                attempt.container_id = container.id
            try:
                container.start()
            except (APIError, DockerException) as error:
                self._fail(attempt, daemon_reason("CannotStartContainerError", error))
                return
            join.container_id = container.id
        if attempt.released and not self._keep_containers:  # released while it was being created
            self._remove(container.id)
        elif attempt.stop_requested and attempt.stop_grace is not None:  # stopped while being created
            self._stop_container(container.id, attempt.stop_grace)
        elif attempt.stop_requested:
            self._kill(container.id)
        self._settle(attempt, RunState(Phase.RUNNING))

    # -- watching ------------------------------------------------------------------------------------
    def _look(self, attempt: DockerAttempt) -> None:
        container_id = attempt.container_id
        assert container_id is not None
        try:
            state = self._client.api.inspect_container(container_id)["State"]
            self._read_logs(attempt, container_id)  # before EXITED is published, so logs are complete then
            if state.get("Status") in ("exited", "dead"):
                if _maybe_oom_not_yet_flagged(state, attempt.stop_requested):
                    state = self._confirm_oom(container_id, state)
                self._settle(
                    attempt, _exit_state(state, attempt.stop_requested and attempt.stop_grace is None)
                )
            elif state.get("Running"):
                self._settle(attempt, RunState(Phase.RUNNING))
        except NotFound:
            self._settle(
                attempt,
                RunState(Phase.EXITED, reason="CannotInspectContainerError: the container was removed"),
            )
        except (APIError, DockerException) as error:
            log.warning("could not inspect container %s: %s", container_id, error)

    def _confirm_oom(self, container_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """An exit 137 nobody asked for: wait briefly for the engine's OOM event or flag before calling
        it a plain exit (on a pool thread, never the scheduler's)."""
        deadline = time.monotonic() + _OOM_RECHECK_SECONDS
        while time.monotonic() < deadline:
            if container_id in self._oom_killed:
                return {**state, "OOMKilled": True}
            time.sleep(0.05)
        state = self._client.api.inspect_container(container_id)["State"]
        return {**state, "OOMKilled": True} if container_id in self._oom_killed else state

    def _watch_oom_events(self) -> None:
        while not self._closing.is_set():
            try:
                events = self._client.api.events(
                    decode=True, filters={"event": "oom", "label": f"{MANAGED_LABEL}=1"}
                )
                for event in events:
                    if self._closing.is_set():
                        return
                    container_id = event.get("id") or event.get("Actor", {}).get("ID")
                    if container_id:
                        self._oom_killed.add(container_id)
            except Exception:  # the engine went away: try again after a pause
                self._closing.wait(2.0)

    def _read_logs(self, attempt: DockerAttempt, container_id: str) -> None:
        arguments: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True}
        since = log_since(attempt)
        if since is not None:
            arguments["since"] = since
        absorb_log_lines(attempt, self._client.api.logs(container_id, **arguments))

    # -- ending --------------------------------------------------------------------------------------
    def _end(self, attempt: DockerAttempt) -> None:
        if attempt.container_id is not None:
            self._kill(attempt.container_id)

    def _kill(self, container_id: str) -> None:
        quietly(f"kill of {container_id}", self._client.api.kill, container_id)

    def _remove(self, container_id: str, task: DockerAttempt | None = None) -> None:
        remove = self._client.api.remove_container
        quietly(
            f"could not remove container {container_id}",
            remove,
            container_id,
            v=True,
            force=True,
            level=logging.WARNING,
        )
        if task is not None:
            remove_task_volumes(self._client.api, task.job_id, task.attempt)


def _maybe_oom_not_yet_flagged(state: dict[str, Any], stop_requested: bool) -> bool:
    return (
        int(state.get("ExitCode", 0)) == KILLED_EXIT_CODE
        and not stop_requested
        and not state.get("OOMKilled")
    )


def _exit_state(state: dict[str, Any], stop_requested: bool) -> RunState:
    exit_code = int(state.get("ExitCode", 0))
    if state.get("OOMKilled"):
        return RunState(Phase.EXITED, exit_code=exit_code or KILLED_EXIT_CODE, reason=OOM_REASON)
    if stop_requested and exit_code == 0:
        exit_code = KILLED_EXIT_CODE
    return RunState(Phase.EXITED, exit_code=exit_code, reason=state.get("Error") or None)

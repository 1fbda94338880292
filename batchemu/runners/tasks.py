"""Multi-container (ecsProperties) attempts on any runner, as the ECS agent runs a task: TaskRunner wraps a
runner, starts each container once its dependsOn conditions hold, stops the others when an essential
container ends, and reports the task as one attempt with every container's result. Single containers and
everything else go to the wrapped runner unchanged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from batchemu.runners.base import ContainerSpec, LogEvent, Phase, Runner, RunState, TaskSpec

log = logging.getLogger("batchemu.runners")

ESSENTIAL_EXITED = "Essential container in task exited"


@dataclass(eq=False)
class Part:
    """One container of a task; also the handle the log shipper follows for that container's stream."""

    spec: ContainerSpec
    handle: Any = None
    phase: Phase | None = None  # None: not started yet
    exit_code: int | None = None
    reason: str | None = None
    ended: bool = False  # exited, failed to start, or will never start

    @property
    def started(self) -> bool:
        return self.phase in (Phase.RUNNING, Phase.EXITED)


@dataclass(eq=False)
class TaskHandle:
    spec: TaskSpec
    parts: list[Part]
    stopping: bool = False
    start_failure: str | None = None
    by_name: dict[str, Part] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {part.spec.name: part for part in self.parts}

    def log_sources(self) -> list[tuple[ContainerSpec, Part]]:
        return [(part.spec, part) for part in self.parts]

    def container_states(self) -> list[tuple[str, str, int | None, str | None]]:
        """(name, ECS status PENDING | RUNNING | STOPPED, exit code, Docker id if any) of each container
        now, for the task metadata endpoint."""
        return [
            (
                part.spec.name,
                "STOPPED" if part.ended else "RUNNING" if part.started else "PENDING",
                part.exit_code,
                getattr(part.handle, "container_id", None),
            )
            for part in self.parts
        ]


class TaskRunner:
    """The runner the scheduler sees: `inner`'s behaviour, plus start_task()."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.name = inner.name
        self._release_inner = getattr(inner, "release", None)  # looked up once, not per ended attempt

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        found = getattr(self.inner, name)
        if name in ("container_instance_id", "next_change"):
            return self._per_handle(name, found)
        return found

    def _per_handle(self, name: str, found: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if name == "next_change":
            return lambda handle: self._next_change(handle, found)
        return lambda handle: (
            found(_first_started(handle)) if isinstance(handle, TaskHandle) else found(handle)
        )

    # -- the Runner interface --------------------------------------------------------------------
    def start(self, spec: ContainerSpec) -> Any:
        return self.inner.start(spec)

    def start_task(self, spec: TaskSpec) -> TaskHandle:
        task = TaskHandle(spec, [Part(container) for container in spec.containers])
        self._start_ready(task)
        return task

    def find_task(self, spec: TaskSpec) -> TaskHandle | None:
        """The task `spec` describes, started before a restart, when the wrapped runner can find every one
        of its containers (find_running); else None, and those it found are stopped: a container that
        was never made (waiting on a dependsOn condition) or is gone leaves the task's state unknowable.
        Blocks on the engine, as find_running does."""
        find_running = getattr(self.inner, "find_running", None)
        if find_running is None:
            return None
        parts = [
            Part(container, handle=find_running(spec.job_id, spec.attempt, task_container=container.name))
            for container in spec.containers
        ]
        if any(part.handle is None for part in parts):
            release = getattr(self.inner, "release", None)
            for part in parts:
                if part.handle is not None:
                    self.inner.stop(part.handle, "Task lost in a restart")
                    if release is not None:
                        release(part.handle)
            return None
        for part in parts:
            part.phase = Phase.STARTING  # started; the next poll says how far
        return TaskHandle(spec, parts)

    def poll(self, handle: Any) -> RunState:
        if isinstance(handle, TaskHandle):
            return self._poll_task(handle)
        return self.inner.poll(handle)

    def stop(self, handle: Any, reason: str) -> None:
        if isinstance(handle, TaskHandle):
            self._stop_all(handle, reason)
        else:
            self.inner.stop(handle, reason)

    def logs(self, handle: Any, since: int) -> list[LogEvent]:
        if isinstance(handle, Part):
            return self.inner.logs(handle.handle, since) if handle.handle is not None else []
        if isinstance(handle, TaskHandle):
            return []  # each container has its own stream, followed through its Part
        return self.inner.logs(handle, since)

    def release(self, handle: Any) -> None:
        release = self._release_inner
        inner = handle.handle if isinstance(handle, Part) else handle
        if release is not None and inner is not None and not isinstance(inner, TaskHandle):
            release(inner)

    def halt(self, handles: list[Any], timeout: float) -> None:
        expanded: list[Any] = []
        for handle in handles:
            if isinstance(handle, TaskHandle):
                handle.stopping = True
                expanded.extend(p.handle for p in handle.parts if p.handle is not None and not p.ended)
            else:
                expanded.append(handle)
        self.inner.halt(expanded, timeout)

    def close(self, leave_running: bool = False) -> None:
        self.inner.close(leave_running=leave_running)

    # -- tasks -----------------------------------------------------------------------------------
    def _poll_task(self, task: TaskHandle) -> RunState:
        for part in task.parts:
            if part.handle is not None and not part.ended:
                self._poll_part(part)
        failed = next((p for p in task.parts if p.phase is Phase.FAILED_TO_START), None)
        if failed is not None and task.start_failure is None:
            task.start_failure = failed.reason or "CannotStartContainerError"
            self._stop_all(task, "Task failed to start")
        if not task.stopping and not task.spec.pod and any(p.ended and p.spec.essential for p in task.parts):
            self._stop_all(task, ESSENTIAL_EXITED, graceful=True)
            for part in task.parts:  # those that stop at once end in this poll
                if part.handle is not None and not part.ended:
                    self._poll_part(part)
        if not task.stopping:
            self._start_ready(task)
        return self._task_state(task)

    def _poll_part(self, part: Part) -> None:
        try:
            state = self.inner.poll(part.handle)
        except Exception as error:
            log.exception("runner could not poll container %s", part.spec.name)
            state = RunState(Phase.EXITED, reason=f"{type(error).__name__}: {error}")
        if state.phase in (Phase.EXITED, Phase.FAILED_TO_START):
            part.ended = True
            part.exit_code, part.reason = state.exit_code, state.reason
        part.phase = state.phase

    def _start_ready(self, task: TaskHandle) -> None:
        """Starts every waiting container whose conditions hold; one whose conditions never can is
        ended unstarted (and, if essential, ends the task)."""
        for part in task.parts:
            if part.phase is not None or part.ended:
                continue
            verdict = _conditions(task, part)
            if verdict is None:
                continue
            if isinstance(verdict, str):
                part.ended, part.reason = True, verdict
                continue
            try:
                part.handle = self.inner.start(part.spec)
                part.phase = Phase.STARTING
                self._poll_part(part)  # a runner that starts at once says so in this tick
            except Exception as error:  # a runner failure fails the task, never the scheduler
                log.exception("runner could not start container %s", part.spec.name)
                part.phase, part.ended = Phase.FAILED_TO_START, True
                part.reason = f"CannotStartContainerError: {type(error).__name__}: {error}"

    def _stop_all(self, task: TaskHandle, reason: str, graceful: bool = False) -> None:
        """Stops every live container: with SIGTERM first when the task ends on its own (an essential
        container exited) and the runner can, else as stop() does (terminate, timeout)."""
        task.stopping = True
        gently = getattr(self.inner, "stop_gracefully", None) if graceful else None
        for part in task.parts:
            if part.ended:
                continue
            if part.handle is None:
                part.ended = True  # never started
                continue
            try:
                if gently is not None:
                    gently(part.handle, reason, part.spec.stop_timeout)
                else:
                    self.inner.stop(part.handle, reason)
            except Exception:
                log.exception("runner could not stop container %s", part.spec.name)

    def _task_state(self, task: TaskHandle) -> RunState:
        results = tuple((p.spec.name, p.exit_code, p.reason) for p in task.parts)
        if not all(part.ended for part in task.parts):
            running = any(part.started for part in task.parts)
            return RunState(Phase.RUNNING if running else Phase.STARTING)
        if task.start_failure is not None:
            return RunState(Phase.FAILED_TO_START, reason=task.start_failure, containers=results)
        # a pod fails with any container that did not exit 0; a task with an essential one
        judged = task.parts if task.spec.pod else [part for part in task.parts if part.spec.essential]
        failed = next((part for part in judged if part.exit_code != 0), None)
        if failed is not None:
            return RunState(Phase.EXITED, failed.exit_code, failed.reason, containers=results)
        return RunState(Phase.EXITED, 0, None, containers=results)

    def _next_change(self, handle: Any, found: Callable[[Any], float | None]) -> float | None:
        if not isinstance(handle, TaskHandle):
            return found(handle)
        if handle.stopping or any(
            part.phase in (None, Phase.STARTING) and not part.ended for part in handle.parts
        ):
            return None  # a container waits for a condition or to start, or the task stops: poll every tick
        times = [found(part.handle) for part in handle.parts if part.handle is not None and not part.ended]
        if not times or any(time is None for time in times):
            return None
        return min(time for time in times if time is not None)


def _conditions(task: TaskHandle, part: Part) -> Literal[True] | str | None:
    """True when every dependsOn condition of `part` holds, None while one may still, or why one never
    will (a choice: AWS's wording for a container that never starts is unknown)."""
    for name, condition in part.spec.depends_on:
        target = task.by_name.get(name)
        if target is None:
            continue
        if condition == "START":
            if target.started:
                continue
            if target.ended:
                return f"Dependency {name} did not start"
            return None
        if not target.ended:
            return None
        if not target.started:
            return f"Dependency {name} did not start"
        if condition == "SUCCESS" and target.exit_code != 0:
            return f"Dependency {name} did not exit successfully"
    return True


def _first_started(task: TaskHandle) -> Any:
    return next((part.handle for part in task.parts if part.handle is not None), None)

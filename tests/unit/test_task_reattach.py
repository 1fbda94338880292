"""TaskRunner.find_task after a restart: a task is re-attached only when the wrapped runner finds every one
of its containers; otherwise those it found are stopped and released, and the job's work counts as lost."""

from __future__ import annotations

from typing import Any

from batchemu.runners.base import ContainerSpec, Phase, RunState, TaskSpec
from batchemu.runners.tasks import TaskRunner


def _container(name: str, essential: bool = True) -> ContainerSpec:
    return ContainerSpec(
        job_id="job",
        attempt=1,
        image="busybox",
        command=["true"],
        environment={},
        vcpus=1,
        memory_mib=64,
        name=name,
        essential=essential,
        in_task=True,
    )


class Engine:
    """A runner whose containers from before the restart are `existing` (name -> exit code or None while
    running)."""

    name = "fake"

    def __init__(self, existing: dict[str, int | None]) -> None:
        self.existing = existing
        self.asked: list[tuple[str, int | None, str | None]] = []
        self.stopped: list[str] = []
        self.released: list[str] = []
        self.started: list[str] = []

    def find_running(self, job_id: str, attempt: int | None = None, task_container: str | None = None) -> Any:
        self.asked.append((job_id, attempt, task_container))
        return task_container if task_container in self.existing else None

    def poll(self, handle: str) -> RunState:
        code = self.existing[handle]
        return RunState(Phase.RUNNING) if code is None else RunState(Phase.EXITED, exit_code=code)

    def start(self, spec: ContainerSpec) -> str:
        self.started.append(spec.name)
        return spec.name

    def stop(self, handle: str, reason: str) -> None:
        self.stopped.append(handle)

    def release(self, handle: str) -> None:
        self.released.append(handle)


TASK = TaskSpec("job", 1, [_container("main"), _container("side", essential=False)])


def test_a_task_whose_containers_are_all_found_is_re_attached_and_polled_as_before() -> None:
    engine = Engine({"main": None, "side": None})
    runner = TaskRunner(engine)  # type: ignore[arg-type]
    task = runner.find_task(TASK)
    assert task is not None
    assert engine.asked == [("job", 1, "main"), ("job", 1, "side")]
    assert runner.poll(task).phase is Phase.RUNNING
    engine.existing["main"] = 3  # the essential container ends: the sidecar is stopped, nothing restarted
    runner.poll(task)
    assert engine.stopped == ["side"] and engine.started == []


def test_a_task_with_a_container_missing_is_not_re_attached_and_what_was_found_is_stopped() -> None:
    engine = Engine({"main": None})
    runner = TaskRunner(engine)  # type: ignore[arg-type]
    assert runner.find_task(TASK) is None
    assert engine.stopped == ["main"] and engine.released == ["main"] and engine.started == []


def test_a_runner_that_cannot_find_containers_re_attaches_nothing() -> None:
    class Blind:
        name = "blind"

    assert TaskRunner(Blind()).find_task(TASK) is None  # type: ignore[arg-type]

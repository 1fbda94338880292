"""The scheduler on a FakeClock with the simulated runner: flow, capacity, priority, retries, timeouts."""

from __future__ import annotations

import pytest

from batchemu.domain.models import Dependency
from batchemu.domain.states import JobEvent
from batchemu.runners.simulated import SimulatedRunner
from batchemu.scheduler.core import Scheduler
from tests.unit.builders import World


@pytest.fixture
def world() -> World:
    w = World()
    w.compute_environment("ce", max_vcpus=1)
    w.queue("q")
    return w


def test_job_flows_to_succeeded_with_ordered_times(world: World) -> None:
    job = world.job()
    world.clock.advance(1)
    world.settle()
    assert job.status == "SUCCEEDED"
    assert job.status_reason == "Essential container in task exited"
    assert job.created_at <= job.started_at <= job.stopped_at
    assert [a.container.exit_code for a in job.attempts] == [0]
    assert job.attempts[0].container.log_stream_name.startswith("work/default/")


def test_second_job_waits_for_capacity(world: World) -> None:
    first = world.job("first", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    second = world.job("second", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    assert (first.status, second.status) == ("RUNNING", "RUNNABLE")
    world.advance(10)
    world.settle()
    assert first.status == "SUCCEEDED"
    assert second.status == "RUNNING"


def test_job_too_big_for_any_environment_is_blocked_with_aws_reason(world: World) -> None:
    job = world.job(vcpus=2)
    world.settle()
    assert job.status == "RUNNABLE"
    assert job.status_reason.startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")


def test_higher_priority_queue_is_served_first(world: World) -> None:
    world.queue("low", priority=1)
    world.queue("high", priority=10)
    low = world.job("low", queue="low", env={"BATCHEMU_SIMULATE_SECONDS": "5"})
    high = world.job("high", queue="high", env={"BATCHEMU_SIMULATE_SECONDS": "5"})
    world.settle()
    assert high.status == "RUNNING"
    assert low.status == "RUNNABLE"


def test_disabled_environment_places_nothing(world: World) -> None:
    world.backend.compute_environments["ce"].state = "DISABLED"
    job = world.job()
    world.settle()
    assert job.status == "RUNNABLE"


def test_failed_attempt_is_retried_then_fails(world: World) -> None:
    job = world.job(env={"BATCHEMU_SIMULATE_EXIT_CODE": "3"}, retry_strategy={"attempts": 3})
    world.settle()
    assert job.status == "FAILED"
    assert [a.container.exit_code for a in job.attempts] == [3, 3, 3]


def test_evaluate_on_exit_exit_rule_stops_retries(world: World) -> None:
    strategy = {"attempts": 3, "evaluate_on_exit": [{"on_exit_code": "3", "action": "EXIT"}]}
    job = world.job(env={"BATCHEMU_SIMULATE_EXIT_CODE": "3"}, retry_strategy=strategy)
    world.settle()
    assert job.status == "FAILED"
    assert len(job.attempts) == 1


def test_timeout_kills_the_attempt_with_exit_137(world: World) -> None:
    job = world.job(
        env={"BATCHEMU_SIMULATE_SECONDS": "600"},
        timeout={"attempt_duration_seconds": 60},
        retry_strategy={"attempts": 2},
    )
    world.settle()
    world.advance(60)
    world.settle()
    assert job.status == "FAILED"
    assert job.status_reason == "Job attempt duration exceeded timeout"
    assert [a.container.exit_code for a in job.attempts] == [137]


def test_dependency_waits_then_runs(world: World) -> None:
    first = world.job("first", env={"BATCHEMU_SIMULATE_SECONDS": "5"})
    second = world.job("second", depends_on=[Dependency(first.id, None)])
    world.settle()
    assert second.status == "PENDING"
    world.advance(5)
    world.settle()
    assert second.status == "SUCCEEDED"


def test_failed_dependency_fails_the_dependent(world: World) -> None:
    first = world.job("first", env={"BATCHEMU_SIMULATE_EXIT_CODE": "1"})
    second = world.job("second", depends_on=[Dependency(first.id, None)])
    world.settle()
    assert second.status == "FAILED"
    assert second.status_reason == "Dependent Job failed"


def test_array_parent_succeeds_when_children_succeed(world: World) -> None:
    world.backend.compute_environments["ce"].compute_resources["max_vcpus"] = 8
    parent = world.job("array", array_size=3)
    world.settle()
    children = [world.backend.jobs[f"{parent.id}:{i}"] for i in range(3)]
    assert parent.status == "SUCCEEDED"
    assert all(child.status == "SUCCEEDED" for child in children)
    assert parent.attempts == []


def test_array_parent_fails_when_a_child_fails(world: World) -> None:
    parent = world.job("array", array_size=2, env={"BATCHEMU_SIMULATE_EXIT_CODE": "1"})
    world.settle()
    assert parent.status == "FAILED"
    assert parent.status_reason == "Array Child Job failed"


def test_terminate_stops_a_running_job(world: World) -> None:
    job = world.job(env={"BATCHEMU_SIMULATE_SECONDS": "100"}, retry_strategy={"attempts": 3})
    world.settle()
    assert job.status == "RUNNING"
    job.pending_stop_reason = "stop it"
    world.backend.touch(job)  # as TerminateJob does: the scheduler polls the job on its next tick
    world.settle()
    assert job.status == "FAILED"
    assert job.status_reason == "stop it"
    assert job.is_terminated
    assert len(job.attempts) == 1


def test_cancel_fails_a_queued_job_without_attempts(world: World) -> None:
    job = world.job(vcpus=2)
    world.settle()
    world.backend.move(job, JobEvent.CANCELLED, world.now_ms, reason="no longer needed")
    assert job.status == "FAILED"
    assert job.is_cancelled
    assert job.attempts == []
    assert world.backend.jobs_by_status["FAILED"][job.id] is job


def test_start_failure_fails_without_started_at(world: World) -> None:
    job = world.job(env={"BATCHEMU_SIMULATE_START_FAILURE": "CannotPullContainerError: no such image"})
    world.settle()
    assert job.status == "FAILED"
    assert job.status_reason == "Task failed to start"
    assert job.started_at is None
    assert job.attempts[0].container.reason.startswith("CannotPullContainerError")


class FlakyEngine(SimulatedRunner):
    """The simulated runner, with an engine that can go away."""

    down: str | None = None

    def unavailable_reason(self) -> str | None:
        return self.down


def test_jobs_wait_with_a_reason_while_the_runner_is_unavailable_and_resume_after() -> None:
    world = World()
    runner = FlakyEngine(world.clock)
    world.scheduler = Scheduler(world.store, runner)
    world.compute_environment("ce")
    world.queue("q")
    runner.down = "the Docker engine does not answer"
    job = world.job()
    world.settle()
    assert job.status == "RUNNABLE"
    assert job.status_reason == "UNDETERMINED:RUNNER_UNAVAILABLE - the Docker engine does not answer"
    runner.down = None
    world.settle()
    assert job.status == "SUCCEEDED"


def big_world() -> World:
    world = World()
    world.compute_environment("ce", max_vcpus=16)
    world.queue("q")
    return world


def test_sequential_array_children_run_one_after_another_in_index_order() -> None:
    world = big_world()
    parent = world.job(
        "seq",
        array_size=3,
        env={"BATCHEMU_SIMULATE_SECONDS": "5"},
        depends_on=[Dependency(None, "SEQUENTIAL")],
    )
    world.settle()
    child = [world.backend.jobs[f"{parent.id}:{i}"] for i in range(3)]
    assert [c.status for c in child] == ["RUNNING", "PENDING", "PENDING"]
    world.advance(5)
    assert [c.status for c in child] == ["SUCCEEDED", "RUNNING", "PENDING"]
    world.advance(5)
    world.advance(5)
    assert parent.status == "SUCCEEDED"
    assert child[0].stopped_at <= child[1].started_at and child[1].stopped_at <= child[2].started_at


def test_n_to_n_child_waits_only_for_its_own_index() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=1)  # one child at a time: index 0 ends before index 1
    world.queue("q")
    first = world.job("first", array_size=2, env={"BATCHEMU_SIMULATE_SECONDS": "5"})
    second = world.job("second", array_size=2, depends_on=[Dependency(first.id, "N_TO_N")])
    world.settle()
    world.advance(5)
    assert [world.backend.jobs[f"{first.id}:{i}"].status for i in range(2)] == ["SUCCEEDED", "RUNNING"]
    assert [world.backend.jobs[f"{second.id}:{i}"].status for i in range(2)] == ["RUNNABLE", "PENDING"]


def test_a_job_depending_on_an_array_parent_waits_for_every_child() -> None:
    world = big_world()
    array = world.job("array", array_size=3, env={"BATCHEMU_SIMULATE_SECONDS": "5"})
    after = world.job("after", depends_on=[Dependency(array.id, None)])
    world.settle()
    assert after.status == "PENDING"
    world.advance(5)
    assert array.status == "SUCCEEDED"
    world.settle()
    assert after.status == "SUCCEEDED"


def test_children_see_their_index_and_the_array_size() -> None:
    world = big_world()
    parent = world.job("array", array_size=2)
    world.settle()
    child = world.backend.jobs[f"{parent.id}:1"]
    spec = child.attempts[0].run_handle.spec
    assert (spec.environment["AWS_BATCH_JOB_ARRAY_INDEX"], spec.environment["AWS_BATCH_JOB_ARRAY_SIZE"]) == (
        "1",
        "2",
    )
    assert spec.environment["AWS_BATCH_JOB_ID"] == f"{parent.id}:1"

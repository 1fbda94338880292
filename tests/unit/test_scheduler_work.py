"""The scheduler's work lists (domain/work.py): lanes, dependents, child counts and timers, and that a
tick with a backlog looks only at what changed."""

from __future__ import annotations

from batchemu.domain.models import Dependency, Job
from batchemu.domain.work import Lane, QueueLanes, SchedulerWork
from batchemu.runners.simulated import SimulatedRunner
from batchemu.scheduler.core import Scheduler
from batchemu.scheduler.placement import fifo_key, fifo_lane
from tests.unit.builders import World


class Untouchable(dict):
    """A status index the scheduler must not walk: iterating it fails the test."""

    def values(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the scheduler walked every job of a status")

    def items(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the scheduler walked every job of a status")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the scheduler walked every job of a status")


def backlog_world(waiting: int) -> tuple[World, list[Job]]:
    world = World()
    world.compute_environment("ce", max_vcpus=1)
    world.queue("q")
    jobs = [world.job(f"j{i}", env={"BATCHEMU_SIMULATE_SECONDS": "100"}) for i in range(waiting)]
    world.settle()
    return world, jobs


def test_a_tick_does_not_walk_the_runnable_or_pending_backlog() -> None:
    world, jobs = backlog_world(50)
    assert [job.status for job in jobs[:2]] == ["RUNNING", "RUNNABLE"]
    backend = world.backend
    for status in ("RUNNABLE", "PENDING"):
        backend.jobs_by_status[status] = Untouchable(backend.jobs_by_status[status])
    world.job("late", env={"BATCHEMU_SIMULATE_SECONDS": "100"})
    world.settle()
    world.advance(100)  # the first ends, the second starts: still nothing walks the backlog
    assert jobs[0].status == "SUCCEEDED"
    assert jobs[1].status == "RUNNING"
    assert all(job.status == "RUNNABLE" for job in jobs[2:])


def test_jobs_with_the_same_needs_share_a_lane_and_a_smaller_job_still_passes() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=2)
    world.queue("q")
    running = world.job("running", env={"BATCHEMU_SIMULATE_SECONDS": "100"})
    big = [world.job(f"big{i}", vcpus=2, env={"BATCHEMU_SIMULATE_SECONDS": "100"}) for i in range(3)]
    small = world.job("small", env={"BATCHEMU_SIMULATE_SECONDS": "100"})
    world.settle()
    assert running.status == "RUNNING"
    assert small.status == "RUNNING"  # passes the 2-vCPU jobs that wait for capacity
    assert [job.status for job in big] == ["RUNNABLE"] * 3
    lanes = world.backend.work.lanes_of(world.backend.job_queues["q"].arn)
    assert lanes is not None and len(lanes.lanes) == 1  # only the 2-vCPU lane is left


def test_lane_drops_entries_of_jobs_that_left_and_orders_by_key() -> None:
    world = World()
    world.compute_environment("ce")
    world.queue("q")
    first, second, third = (world.job(name) for name in ("a", "b", "c"))
    lanes = QueueLanes()
    for token, job in enumerate((third, first, second)):
        lanes.add(job, token)
    lane = next(iter(lanes.use("fifo", fifo_lane, fifo_key).values()))
    assert lane.head() is first
    lanes.remove(first)
    assert lane.head() is second
    lanes.add(first, 99)  # back again (a retry) with a new token: its old entry stays dead
    assert lane.head() is first
    lane.pop()
    assert lane.head() is second


def test_a_lane_puts_back_an_entry_taken_aside() -> None:
    tokens: dict[str, int] = {}
    lane = Lane(tokens)
    world = World()
    world.compute_environment("ce")
    world.queue("q")
    job = world.job()
    tokens[job.id] = 1
    lane.push((0,), 1, job)
    entry = lane.take()
    assert lane.head() is None
    lane.put_back(entry)
    assert lane.head() is job


def test_a_lane_gives_its_jobs_in_key_order_whatever_the_order_they_came_in() -> None:
    import random

    from batchemu.domain.models import Job

    tokens: dict[str, int] = {}
    lane = Lane(tokens)
    keys = [(1, 5, n) for n in range(50)] + [(0, 9, 1), (1, 5, 3), (1, 4, 0)] + [(1, 6, n) for n in range(20)]
    random.Random(7).shuffle(keys[40:])  # in order at first (an array's children), then mixed
    jobs = {}
    for token, key in enumerate(keys):
        job = Job.__new__(Job)
        job.id = f"j{token}"
        tokens[job.id] = token
        jobs[job.id] = key
        lane.push(key, token, job)
    del tokens["j10"]  # left RUNNABLE: dropped when it comes to the head
    taken = []
    while (job := lane.head()) is not None:
        taken.append(jobs[job.id])
        lane.pop()
    assert taken == sorted(key for name, key in jobs.items() if name != "j10")
    assert len(lane) == 0


def test_stale_entries_are_compacted_when_they_pile_up() -> None:
    world = World()
    world.compute_environment("ce")
    world.queue("q")
    lanes = QueueLanes()
    lanes.use("fifo", fifo_lane, fifo_key)
    keep = world.job("keep")
    lanes.add(keep, 0)
    for token in range(1, 200):
        gone = world.job(f"gone{token}")
        lanes.add(gone, token)
        lanes.remove(gone)
    rebuilt = lanes.use("fifo", fifo_lane, fifo_key)
    assert sum(len(lane) for lane in rebuilt.values()) == 1


def test_a_dependent_is_looked_at_again_only_when_its_dependency_moves() -> None:
    world = World()
    world.compute_environment("ce")
    world.queue("q")
    first = world.job("first", env={"BATCHEMU_SIMULATE_SECONDS": "10"})
    world.settle()
    second = world.job("second", depends_on=[Dependency(job_id=first.id, type=None)])
    world.settle()
    work = world.backend.work
    assert second.status == "PENDING"
    assert work.dependents == {first.id: {second.id}}
    assert not work.pending_check
    world.advance(10)
    assert second.status == "SUCCEEDED"
    assert first.id not in work.dependents


def test_child_counts_follow_every_move_and_mark_the_parent_ready() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=16)
    world.queue("q")
    parent = world.job("array", array_size=3)
    world.scheduler.tick(world.clock.now())
    counts = world.backend.work.child_counts[parent.id]
    assert sum(counts.values()) == 3
    assert counts["STARTING"] == 3  # spawned, made RUNNABLE and placed in one tick
    world.settle()
    assert counts["SUCCEEDED"] == 3
    assert parent.status == "SUCCEEDED"


def test_time_limit_timer_cancels_a_blocked_job_when_due_and_not_before() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=1)
    queue = world.queue("q")
    queue.job_state_time_limit_actions = [
        {
            "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
            "state": "RUNNABLE",
            "max_time_seconds": 600,
            "action": "CANCEL",
        }
    ]
    job = world.job(vcpus=4)
    world.settle()
    assert job.status == "RUNNABLE"
    assert len(world.backend.work.timers) == 1
    world.advance(599)
    assert job.status == "RUNNABLE"
    world.advance(1)
    assert job.status == "FAILED"
    assert job.status_reason.startswith("Canceled by JobStateTimeLimit action due to reason: MISCONF")


def test_changing_a_queues_time_limit_actions_sets_the_timers_again() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=1)
    queue = world.queue("q")
    job = world.job(vcpus=4)
    world.settle()
    assert not world.backend.work.timers
    queue.job_state_time_limit_actions = [
        {"reason": "MISCONFIGURATION", "state": "RUNNABLE", "max_time_seconds": 60, "action": "CANCEL"}
    ]
    world.advance(60)
    assert job.status == "FAILED"


def test_rebuild_restores_the_work_of_a_loaded_backend() -> None:
    world, jobs = backlog_world(5)
    backend = world.backend
    backend.work = SchedulerWork()
    for job in backend.jobs.values():
        backend.work.added(job)
    assert backend.work.stale
    world.advance(100)
    assert jobs[1].status == "RUNNING"
    assert not backend.work.stale


class CountingRunner(SimulatedRunner):
    polls = 0

    def poll(self, handle):  # type: ignore[no-untyped-def]
        CountingRunner.polls += 1
        return super().poll(handle)


def test_a_running_job_is_polled_when_the_runner_says_it_may_change_not_on_every_tick() -> None:
    world = World()
    world.scheduler = Scheduler(world.store, CountingRunner(world.clock))
    world.compute_environment("ce", max_vcpus=100)
    world.queue("q")
    jobs = [world.job(f"j{i}", env={"BATCHEMU_SIMULATE_SECONDS": "30"}) for i in range(20)]
    world.settle()
    CountingRunner.polls = 0
    for _ in range(10):
        world.clock.advance(1)
        world.scheduler.tick(world.clock.now())
    assert CountingRunner.polls == 0
    world.advance(20)
    assert all(job.status == "SUCCEEDED" for job in jobs)
    assert CountingRunner.polls == 20


def test_a_running_jobs_timeout_is_due_before_the_runner_would_change() -> None:
    world = World()
    world.compute_environment("ce")
    world.queue("q")
    job = world.job(env={"BATCHEMU_SIMULATE_SECONDS": "100"}, timeout={"attempt_duration_seconds": 60})
    world.settle()
    world.advance(59)
    assert job.status == "RUNNING"
    world.advance(1)
    assert job.status == "FAILED"
    assert job.status_reason == "Job attempt duration exceeded timeout"


def test_capacity_held_follows_attempts_in_and_out_of_live_states() -> None:
    world, jobs = backlog_world(3)
    work = world.backend.work
    arn = world.backend.compute_environments["ce"].arn
    assert work.capacity[arn][0] == 1.0
    assert list(work.held) == [jobs[0].id]
    world.advance(100)
    assert list(work.held) == [jobs[1].id]
    assert work.capacity[arn][0] == 1.0


def test_a_large_array_becomes_runnable_over_several_ticks_not_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from batchemu.scheduler import dependencies

    monkeypatch.setattr(dependencies, "PER_TICK", 10)
    world = World()
    world.compute_environment("ce", state="DISABLED")  # nothing starts: children wait as RUNNABLE
    world.queue("q")
    parent = world.job("array", array_size=25)
    world.scheduler.tick(world.clock.now())
    runnable = world.backend.jobs_by_status["RUNNABLE"]
    assert len(runnable) == 10
    world.settle()
    assert len(runnable) == 25
    assert parent.status == "PENDING"

"""Fair share, head-of-line blocking, retried jobs at the front, jobStateTimeLimitActions and pacing."""

from __future__ import annotations

from batchemu import arns
from batchemu.domain.models import SchedulingPolicy
from batchemu.scheduler.core import REALISTIC_DWELL_SECONDS, Scheduler
from batchemu.scheduler.fairshare import weight_of
from tests.unit.builders import ACCOUNT, REGION, World


def fair_share_world(max_vcpus: float, policy: dict) -> World:
    world = World()
    world.compute_environment("ce", max_vcpus=max_vcpus)
    queue = world.queue("fs")
    arn = arns.build(REGION, ACCOUNT, "scheduling-policy", "p")
    world.backend.scheduling_policies["p"] = SchedulingPolicy(name="p", arn=arn, fairshare_policy=policy)
    queue.scheduling_policy_arn = arn
    return world


def test_weight_lookup_exact_then_longest_prefix_then_default() -> None:
    policy = {
        "share_distribution": [
            {"share_identifier": "team*", "weight_factor": 0.5},
            {"share_identifier": "teamA", "weight_factor": 2},
        ]
    }
    assert weight_of(policy, "teamA") == 2
    assert weight_of(policy, "teamB") == 0.5
    assert weight_of(policy, "other") == 1.0


def test_saturated_environment_converges_to_share_weights() -> None:
    policy = {
        "share_decay_seconds": 0,
        "share_distribution": [
            {"share_identifier": "light", "weight_factor": 1},
            {"share_identifier": "heavy", "weight_factor": 3},
        ],
    }
    world = fair_share_world(8, policy)
    for index in range(200):
        for share in ("light", "heavy"):
            world.job(
                f"{share}{index}",
                queue="fs",
                env={"BATCHEMU_SIMULATE_SECONDS": "10"},
                share_identifier=share,
                scheduling_priority=0,
            )
    world.settle()
    running = {"light": 0, "heavy": 0}
    for job in world.backend.jobs_by_status["RUNNING"].values():
        running[job.share_identifier] += 1
    # weight 1 gets three times the capacity of weight 3
    assert running == {"light": 6, "heavy": 2}
    consumed = {"light": 0.0, "heavy": 0.0}
    for _ in range(10):
        world.advance(10)
        for job in world.backend.jobs_by_status["RUNNING"].values():
            consumed[job.share_identifier] += 10 * job.current_attempt.vcpus
    assert consumed["light"] / consumed["heavy"] == 3.0


def test_higher_scheduling_priority_first_within_a_share() -> None:
    world = fair_share_world(1, {"share_decay_seconds": 0})
    low = world.job(
        "low", queue="fs", env={"BATCHEMU_SIMULATE_SECONDS": "5"}, share_identifier="a", scheduling_priority=1
    )
    high = world.job(
        "high",
        queue="fs",
        env={"BATCHEMU_SIMULATE_SECONDS": "5"},
        share_identifier="a",
        scheduling_priority=9,
    )
    world.settle()
    assert (high.status, low.status) == ("RUNNING", "RUNNABLE")


def test_compute_reservation_keeps_capacity_for_inactive_shares() -> None:
    world = fair_share_world(4, {"share_decay_seconds": 0, "compute_reservation": 50})
    jobs = [
        world.job(
            f"a{i}",
            queue="fs",
            env={"BATCHEMU_SIMULATE_SECONDS": "5"},
            share_identifier="a",
            scheduling_priority=0,
        )
        for i in range(4)
    ]
    world.settle()
    # one active share: (50/100)^1 = half of the 4 vCPUs stays free for others
    assert sum(job.status == "RUNNING" for job in jobs) == 2
    newcomer = world.job(
        "b", queue="fs", env={"BATCHEMU_SIMULATE_SECONDS": "5"}, share_identifier="b", scheduling_priority=0
    )
    world.settle()
    assert newcomer.status == "RUNNING"


def test_job_that_can_never_fit_blocks_the_head_of_a_fifo_queue() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=2)
    world.queue("q")
    giant = world.job("giant", vcpus=4)
    small = world.job("small", vcpus=1)
    world.settle()
    assert giant.status == "RUNNABLE" and giant.status_reason.startswith(
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    )
    assert small.status == "RUNNABLE"


def test_job_waiting_for_capacity_lets_smaller_jobs_behind_it_run() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=2)
    world.queue("q")
    world.job("holder", vcpus=1, env={"BATCHEMU_SIMULATE_SECONDS": "50"})
    world.settle()
    waiting = world.job("two", vcpus=2)
    small = world.job("one", vcpus=1, env={"BATCHEMU_SIMULATE_SECONDS": "50"})
    world.settle()
    assert (waiting.status, small.status) == ("RUNNABLE", "RUNNING")


def test_retried_job_goes_back_to_the_front_of_the_queue() -> None:
    world = World()
    world.compute_environment("ce", max_vcpus=1)
    world.queue("q")
    flaky = world.job(
        "flaky",
        env={"BATCHEMU_SIMULATE_EXIT_CODE": "1", "BATCHEMU_SIMULATE_SECONDS": "1"},
        retry_strategy={"attempts": 2},
    )
    world.settle()
    world.clock.advance(1)
    later = world.job("later", env={"BATCHEMU_SIMULATE_SECONDS": "1"})
    world.settle()
    assert flaky.status == "RUNNING" and len(flaky.attempts) == 1
    assert later.status == "RUNNABLE"


def test_time_limit_action_cancels_a_blocked_job_after_max_time() -> None:
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
    job = world.job(vcpus=2)
    world.settle()
    world.advance(599)
    assert job.status == "RUNNABLE"
    world.advance(1)
    assert job.status == "FAILED"
    assert job.status_reason == (
        "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    )
    assert job.is_cancelled


def test_realistic_pace_dwells_in_each_status() -> None:
    world = World()
    world.scheduler = Scheduler(world.store, world.scheduler.runner, REALISTIC_DWELL_SECONDS)
    world.compute_environment("ce")
    world.queue("q")
    job = world.job()
    world.settle()
    assert job.status == "SUBMITTED"
    world.advance(1)
    assert job.status == "RUNNABLE"
    world.advance(1)
    assert job.status == "STARTING"
    world.advance(2)
    assert job.status == "SUCCEEDED"
    assert [status for _, status, _ in job.history][-3:] == ["STARTING", "RUNNING", "SUCCEEDED"]

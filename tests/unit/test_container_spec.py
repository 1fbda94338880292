"""The spec an attempt's runner gets, and the run states the simulated runner answers with."""

from __future__ import annotations

import dataclasses

from batchemu.domain.states import JobEvent
from batchemu.runners.base import ContainerSpec, Phase, RunState
from batchemu.scheduler import lifecycle, placement
from tests.unit.builders import World


def _placed_spec(world: World, env: dict[str, str] | None = None) -> tuple[ContainerSpec, object]:
    ce, queue = world.compute_environment("ce"), world.queue("q")
    job = world.job("spec", env=env or {"LEVEL": "3"})
    need = lifecycle.tasks.job_requirements(job)
    attempt = placement.new_attempt(world.backend, job, ce, need, "arn:instance")
    world.backend.move(job, JobEvent.READY, world.now_ms)
    world.backend.move(job, JobEvent.PLACED, world.now_ms, attempt=attempt)
    return lifecycle.container_spec(
        world.backend, job, queue, ce, lifecycle.Launch("sekret"), world.now_ms
    ), job


def test_the_spec_holds_every_field_of_the_job_and_its_attempt() -> None:
    world = World()
    spec, job = _placed_spec(world)
    values = dataclasses.asdict(spec)
    assert values["job_id"] == job.id and values["attempt"] == 1  # type: ignore[attr-defined]
    assert (values["image"], values["command"]) == ("busybox", ["true"])
    assert (values["vcpus"], values["memory_mib"], values["gpus"]) == (1.0, 512, 0)
    assert values["environment"]["LEVEL"] == "3"
    assert values["environment"]["AWS_BATCH_JOB_ID"] == job.id  # type: ignore[attr-defined]
    assert values["environment"]["AWS_BATCH_CE_NAME"] == "ce"
    assert values["log_stream_name"].startswith("work/default/")
    assert values["labels"] == {"batchemu.job-id": job.id, "batchemu.attempt": "1"}  # type: ignore[attr-defined]
    assert values["secret_access_key"] == "sekret"
    assert (values["region"], values["account"]) == ("us-east-1", "123456789012")
    assert values["agent_path"].endswith("/1") and len(values["agent_token"]) == 64
    assert (values["name"], values["essential"], values["stop_timeout"]) == ("default", True, 30.0)
    assert (values["depends_on"], values["in_task"], values["user"], values["privileged"]) == (
        [],
        False,
        None,
        False,
    )


def test_the_spec_is_the_same_as_one_built_by_keyword() -> None:
    world = World()
    spec, _job = _placed_spec(world)
    values = {field.name: getattr(spec, field.name) for field in dataclasses.fields(ContainerSpec)}
    assert ContainerSpec(**values) == spec


def test_the_simulated_runner_answers_with_equal_run_states_shared_between_attempts() -> None:
    world = World()
    runner = world.scheduler.runner
    first, _ = _placed_spec(world)
    second, _ = _placed_spec(world, {"BATCHEMU_SIMULATE_EXIT_CODE": "3", "BATCHEMU_SIMULATE_REASON": "boom"})
    one, two = runner.start(first), runner.start(second)
    assert runner.poll(one) == RunState(Phase.EXITED, exit_code=0)
    assert runner.poll(one) is runner.poll(runner.start(first))
    assert runner.poll(two) == RunState(Phase.EXITED, exit_code=3, reason="boom")
    runner.stop(two, "stop")
    assert runner.poll(two) == RunState(Phase.EXITED, exit_code=137)

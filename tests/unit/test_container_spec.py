"""The spec an attempt's runner gets, and the run states the simulated runner answers with."""

from __future__ import annotations

import dataclasses

from batchemu.domain.states import JobEvent
from batchemu.runners.base import ContainerSpec, Phase, RunState
from batchemu.scheduler import lifecycle, placement, specs
from tests.unit.builders import World


def _placed_spec(world: World, env: dict[str, str] | None = None) -> tuple[ContainerSpec, object]:
    ce, queue = world.compute_environment("ce"), world.queue("q")
    job = world.job("spec", env=env or {"LEVEL": "3"})
    need = lifecycle.tasks.job_requirements(job)
    attempt = placement.new_attempt(world.backend, job, ce, need, "arn:instance")
    world.backend.move(job, JobEvent.READY, world.now_ms)
    world.backend.move(job, JobEvent.PLACED, world.now_ms, attempt=attempt)
    return specs.container_spec(world.backend, job, queue, ce, specs.Launch("sekret"), world.now_ms), job


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


def test_the_environment_has_the_keys_values_and_order_of_batch_environment_for_every_kind_of_job() -> None:
    from batchemu.domain import params

    world = World()
    ce, queue = world.compute_environment("ce"), world.queue("q")
    plain = world.job("plain", env={"B": "1", "AWS_BATCH_JQ_NAME": "mine", "AWS_EXECUTION_ENV": "x"})
    child = world.job("child", env={"A": "2"}, array_index=7, array_size=10, parent_id="p")
    for job in (plain, child, plain, child):  # the second time from the template
        for attempt in (1, 2):
            prepared = specs._PREPARED(job.container, (specs.Launch().host_access, False))
            expected = prepared.environment | params.batch_environment(job, attempt, queue.name, ce.name)
            expected["AWS_EXECUTION_ENV"] = f"AWS_ECS_{ce.platform}"
            got = specs._environment(prepared, job, attempt, queue.name, ce)
            assert list(got.items()) == list(expected.items())
    assert got["AWS_BATCH_JOB_ARRAY_INDEX"] == "7" and got["AWS_BATCH_JOB_ATTEMPT"] == "2"
    assert list(params.batch_environment(child, 1, "q", "ce").items()) == [
        ("AWS_BATCH_JOB_ID", child.id),
        ("AWS_BATCH_JQ_NAME", "q"),
        ("AWS_BATCH_CE_NAME", "ce"),
        ("AWS_BATCH_JOB_ATTEMPT", "1"),
        ("AWS_BATCH_JOB_ARRAY_INDEX", "7"),
        ("AWS_BATCH_JOB_ARRAY_SIZE", "10"),
    ]

"""DockerRunner against a real engine: exit codes, logs, environment, limits and mounts, kill on stop,
OOM, pull failures, labels, container removal and re-attach by label."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from batchemu.runners.base import Phase
from batchemu.runners.docker import OOM_REASON, DockerRunner

ENDPOINT = "http://127.0.0.1:4566"  # as in conftest.py
PYTHON = "batchemu-test/python:latest"
pytestmark = pytest.mark.docker
RUN = uuid.uuid4().hex[:8]  # job ids unique to this run, so concurrent runs never see each other


def _container(docker_api: Any, job_id: str) -> dict[str, Any]:
    found = docker_api.containers(all=True, filters={"label": f"batchemu.job-id={job_id}"})
    assert len(found) == 1, found
    return docker_api.inspect_container(found[0]["Id"])


def _gone(docker_api: Any, job_id: str, deadline: float = 10.0) -> bool:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if not docker_api.containers(all=True, filters={"label": f"batchemu.job-id={job_id}"}):
            return True
        time.sleep(0.1)
    return False


def test_start_returns_at_once_and_success_exits_zero_with_stdout_and_stderr_lines(
    docker_runner, make_spec, wait_for, run_to_end
):
    began = time.monotonic()
    handle = docker_runner.start(make_spec(["sh", "-c", "echo hello; echo oops >&2; echo bye"]))
    assert time.monotonic() - began < 0.1
    state = wait_for(docker_runner, handle)
    events = docker_runner.logs(handle, 0)
    assert (state.phase, state.exit_code, state.reason) == (Phase.EXITED, 0, None)
    # stdout and stderr are separate pipes: their relative order is not kept, each one's is
    assert sorted(event.message for event in events) == ["bye", "hello", "oops"]
    assert [event.message for event in events if event.message != "oops"] == ["hello", "bye"]
    assert all(abs(event.timestamp_ms - time.time() * 1000) < 60_000 for event in events)
    assert docker_runner.logs(handle, 2) == events[2:]


def test_exit_code_three_is_reported(docker_runner, make_spec, run_to_end):
    state, _, _ = run_to_end(docker_runner, make_spec(["sh", "-c", "exit 3"]))
    assert (state.phase, state.exit_code) == (Phase.EXITED, 3)


def test_logs_arrive_while_the_container_runs_and_are_not_repeated(docker_runner, make_spec, wait_for):
    handle = docker_runner.start(make_spec(["sh", "-c", "echo one; echo two; sleep 2; echo three"]))
    give_up = time.monotonic() + 20
    while len(docker_runner.logs(handle, 0)) < 2:
        assert time.monotonic() < give_up
        time.sleep(0.1)
    assert docker_runner.poll(handle).phase is Phase.RUNNING
    assert wait_for(docker_runner, handle).exit_code == 0
    assert [event.message for event in docker_runner.logs(handle, 0)] == ["one", "two", "three"]


def test_a_chatty_job_read_while_it_writes_loses_and_repeats_no_line(docker_runner, make_spec, wait_for):
    script = "for b in 1 2 3 4 5; do for i in $(seq 1 400); do echo $b-$i; done; sleep 0.3; done"
    handle = docker_runner.start(make_spec(["sh", "-c", script]))
    while docker_runner.poll(handle).phase not in (Phase.EXITED, Phase.FAILED_TO_START):
        docker_runner.logs(handle, 0)
        time.sleep(0.05)
    expected = [f"{batch}-{line}" for batch in range(1, 6) for line in range(1, 401)]
    assert [event.message for event in docker_runner.logs(handle, 0)] == expected


def test_the_job_sees_its_batch_variables_and_the_emulator_endpoint(docker_runner, make_spec, run_to_end):
    spec = make_spec(["env"], job_id="job-env", region="eu-west-1", account="210987654321")
    state, lines, _ = run_to_end(docker_runner, spec)
    assert state.exit_code == 0
    for expected in (
        "AWS_BATCH_JOB_ID=job-env",
        "AWS_BATCH_JOB_ATTEMPT=1",
        "AWS_BATCH_JQ_NAME=queue-1",
        f"AWS_ENDPOINT_URL={ENDPOINT}",
        "AWS_REGION=eu-west-1",
        "AWS_DEFAULT_REGION=eu-west-1",
        "AWS_ACCESS_KEY_ID=210987654321",
        "AWS_EC2_METADATA_DISABLED=true",
    ):
        assert expected in lines


def test_stop_kills_a_running_sleep_within_seconds_with_exit_137(docker_runner, make_spec, wait_for):
    handle = docker_runner.start(make_spec(["sleep", "300"]))
    wait_for(docker_runner, handle, (Phase.RUNNING,))
    began = time.monotonic()
    docker_runner.stop(handle, "Terminated by test")
    state = wait_for(docker_runner, handle, deadline=10)
    assert (state.phase, state.exit_code) == (Phase.EXITED, 137)
    assert time.monotonic() - began < 5


def test_stop_before_the_container_runs_still_ends_with_137(docker_runner, docker_api, make_spec, wait_for):
    handle = docker_runner.start(make_spec(["sleep", "300"], job_id=f"job-early-stop-{RUN}"))
    docker_runner.stop(handle, "Terminated by test")
    state = wait_for(docker_runner, handle, deadline=10)
    assert (state.phase, state.exit_code) == (Phase.EXITED, 137)
    docker_runner.release(handle)
    assert _gone(docker_api, f"job-early-stop-{RUN}")


def test_memory_over_the_limit_is_an_out_of_memory_kill(docker_runner, make_spec, run_to_end):
    spec = make_spec(["sh", "-c", "head -c 200m /dev/zero | tail"], memory_mib=32)
    state, _, _ = run_to_end(docker_runner, spec)
    assert (state.phase, state.exit_code, state.reason) == (Phase.EXITED, 137, OOM_REASON)


def test_a_missing_image_fails_to_start_promptly_with_cannot_pull(docker_runner, make_spec, wait_for):
    began = time.monotonic()
    handle = docker_runner.start(make_spec(["true"], image="batchemu-test/no-such-image:never"))
    state = wait_for(docker_runner, handle, deadline=30)
    assert state.phase is Phase.FAILED_TO_START
    assert state.reason.startswith("CannotPullContainerError: ")
    assert time.monotonic() - began < 30


def test_a_command_that_cannot_be_executed_fails_to_start(docker_runner, make_spec, run_to_end):
    state, _, _ = run_to_end(docker_runner, make_spec(["/no/such/program"]))
    assert state.phase is Phase.FAILED_TO_START
    assert state.reason.startswith("CannotStartContainerError: ")


def test_labels_limits_and_options_reach_the_container(docker_runner, docker_api, make_spec, wait_for):
    spec = make_spec(
        ["sleep", "300"],
        job_id=f"job-options-{RUN}",
        vcpus=0.5,
        memory_mib=64,
        user="nobody",
        readonly_root_filesystem=True,
        ulimits=[{"name": "nofile", "soft_limit": 1024, "hard_limit": 2048}],
        linux_parameters={
            "shared_memory_size": 128,
            "init_process_enabled": True,
            "tmpfs": [{"container_path": "/scratch", "size": 16}],
        },
        labels={"team": "data"},
    )
    handle = docker_runner.start(spec)
    wait_for(docker_runner, handle, (Phase.RUNNING,))
    details = _container(docker_api, f"job-options-{RUN}")
    labels, host = details["Config"]["Labels"], details["HostConfig"]
    assert labels["batchemu"] == "1" and labels["team"] == "data"
    assert labels["batchemu.job-id"] == f"job-options-{RUN}" and labels["batchemu.attempt"] == "1"
    assert details["Config"]["User"] == "nobody"
    assert host["NetworkMode"] == "host"
    assert (host["NanoCpus"], host["Memory"], host["ShmSize"]) == (500_000_000, 64 * 2**20, 128 * 2**20)
    assert host["ReadonlyRootfs"] is True and host["Init"] is True
    assert host["Tmpfs"] == {"/scratch": "size=16m"}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert not host.get("DeviceRequests")
    docker_runner.stop(handle, "done")
    wait_for(docker_runner, handle)


def test_host_volumes_are_bound_and_other_volumes_are_scratch_space(
    docker_runner, make_spec, run_to_end, tmp_path: Path
):
    (tmp_path / "input.txt").write_text("from the host\n")
    spec = make_spec(
        ["sh", "-c", "cat /data/input.txt && echo scratch > /work/file && cat /work/file"],
        volumes=[{"name": "data", "host": {"source_path": str(tmp_path)}}, {"name": "work"}],
        mount_points=[
            {"source_volume": "data", "container_path": "/data", "read_only": True},
            {"source_volume": "work", "container_path": "/work"},
        ],
    )
    state, lines, _ = run_to_end(docker_runner, spec)
    assert (state.exit_code, lines) == (0, ["from the host", "scratch"])


def test_release_removes_the_container(docker_runner, docker_api, make_spec, run_to_end):
    state, _, handle = run_to_end(docker_runner, make_spec(["true"], job_id=f"job-release-{RUN}"))
    assert state.exit_code == 0
    assert _container(docker_api, f"job-release-{RUN}")["State"]["Status"] == "exited"  # poll never removes
    docker_runner.release(handle)
    assert _gone(docker_api, f"job-release-{RUN}")


def test_keep_containers_keeps_the_container_after_release(docker_engine, docker_api, make_spec, run_to_end):
    runner = DockerRunner(ENDPOINT, keep_containers=True)
    try:
        _, _, handle = run_to_end(runner, make_spec(["true"], job_id=f"job-kept-{RUN}"))
        runner.release(handle)
        time.sleep(0.5)
        assert _container(docker_api, f"job-kept-{RUN}")["State"]["ExitCode"] == 0
    finally:
        runner.close()
        for summary in docker_api.containers(all=True, filters={"label": f"batchemu.job-id=job-kept-{RUN}"}):
            docker_api.remove_container(summary["Id"], force=True)


def test_find_running_reattaches_to_a_container_from_another_runner(
    docker_engine, docker_api, make_spec, wait_for
):
    first = DockerRunner(ENDPOINT, stop_on_close=False)
    second = DockerRunner(ENDPOINT)
    try:
        wait_for(
            first, first.start(make_spec(["sleep", "300"], job_id=f"job-reattach-{RUN}")), (Phase.RUNNING,)
        )
        first.close()
        assert second.find_running(f"job-elsewhere-{RUN}") is None
        handle = second.find_running(f"job-reattach-{RUN}")
        assert handle is not None and handle.attempt == 1
        assert wait_for(second, handle, (Phase.RUNNING,)).phase is Phase.RUNNING
        second.stop(handle, "done")
        assert wait_for(second, handle, deadline=10).exit_code == 137
        second.release(handle)
    finally:
        second.close()
    assert _gone(docker_api, f"job-reattach-{RUN}")


def test_close_removes_containers_never_released(docker_engine, docker_api, make_spec, wait_for):
    runner = DockerRunner(ENDPOINT)
    wait_for(runner, runner.start(make_spec(["sleep", "300"], job_id=f"job-orphan-{RUN}")), (Phase.RUNNING,))
    runner.close()
    assert _gone(docker_api, f"job-orphan-{RUN}")


def test_many_containers_run_at_once(docker_runner, make_spec, wait_for):
    handles = [
        docker_runner.start(make_spec(["sh", "-c", f"echo {n}"], job_id=f"job-many-{n}")) for n in range(8)
    ]
    for number, handle in enumerate(handles):
        assert wait_for(docker_runner, handle, deadline=60).exit_code == 0
        assert [event.message for event in docker_runner.logs(handle, 0)] == [str(number)]


def test_the_python_image_has_a_recent_boto3_and_pillow(docker_runner, make_spec, run_to_end):
    script = "import boto3, PIL; print(boto3.__version__); print(boto3.client('s3').meta.endpoint_url)"
    state, lines, _ = run_to_end(docker_runner, make_spec(["python3", "-c", script], image=PYTHON))
    assert state.exit_code == 0, lines
    assert tuple(int(part) for part in lines[0].split(".")[:2]) >= (1, 28)
    assert lines[1] == ENDPOINT


def test_halt_kills_waits_and_reads_the_last_lines(docker_runner, make_spec, wait_for):
    handle = docker_runner.start(make_spec(["sh", "-c", "echo before; sleep 300"], job_id=f"job-halt-{RUN}"))
    wait_for(docker_runner, handle, (Phase.RUNNING,))
    began = time.monotonic()
    docker_runner.halt([handle], timeout=5)
    assert time.monotonic() - began < 5
    state = docker_runner.poll(handle)
    assert (state.phase, state.exit_code) == (Phase.EXITED, 137)
    assert [event.message for event in docker_runner.logs(handle, 0)] == ["before"]


def test_containers_carry_their_servers_owner_labels(docker_runner, docker_api, make_spec, wait_for):
    job_id = f"job-owned-{RUN}"
    wait_for(docker_runner, docker_runner.start(make_spec(["true"], job_id=job_id)))
    labels = _container(docker_api, job_id)["Config"]["Labels"]
    assert {name: labels.get(name) for name in docker_runner.owner.labels()} == docker_runner.owner.labels()


def _labelled_container(docker_api: Any, job_id: str, labels: dict[str, str], command: list[str]) -> str:
    created = docker_api.create_container(
        "batchemu-test/busybox:latest",
        command,
        labels={"batchemu": "1", "batchemu.job-id": job_id, "batchemu.attempt": "1", **labels},
    )
    docker_api.start(created["Id"])
    return str(created["Id"])


def test_remove_orphans_removes_a_dead_servers_containers_only(docker_engine, docker_api):
    import subprocess

    from batchemu.runners import ownership

    gone = subprocess.Popen(["sleep", "30"])
    dead_owner = ownership.Owner("dead", ownership.process_identity(gone.pid))
    gone.kill()
    gone.wait()
    live_owner = ownership.Owner("live", ownership.process_identity(os.getpid()))
    waiting = ownership.Owner("waiting", dead_owner.process, state_id="another-state-dir")
    folder_gone = ownership.Owner("gone", dead_owner.process, state_id="s", state_path="/nonexistent/state")
    made = {
        "dead": _labelled_container(docker_api, f"job-dead-{RUN}", dead_owner.labels(), ["sleep", "300"]),
        "gone": _labelled_container(docker_api, f"job-gone-{RUN}", folder_gone.labels(), ["sleep", "300"]),
        "live": _labelled_container(docker_api, f"job-live-{RUN}", live_owner.labels(), ["sleep", "300"]),
        "waiting": _labelled_container(docker_api, f"job-wait-{RUN}", waiting.labels(), ["sleep", "300"]),
        "legacy": _labelled_container(docker_api, f"job-legacy-{RUN}", {}, ["true"]),
    }
    runner = DockerRunner(ENDPOINT)
    try:
        runner.remove_orphans()
        assert _gone(docker_api, f"job-dead-{RUN}", deadline=1)
        assert _gone(docker_api, f"job-gone-{RUN}", deadline=1)  # its state folder no longer exists
        for kept in ("live", "waiting", "legacy"):  # the legacy one exited seconds ago: left alone
            assert docker_api.inspect_container(made[kept])["Id"] == made[kept]
    finally:
        runner.close()
        for container_id in made.values():
            try:
                docker_api.remove_container(container_id, force=True)
            except Exception:
                pass

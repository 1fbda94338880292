"""ProcessRunner on this host: exit codes, logs, environment, killing the whole process group, and
commands that cannot start."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from batchemu.runners.base import Phase
from batchemu.runners.process import ProcessRunner

ENDPOINT = "http://127.0.0.1:4566"  # as in conftest.py


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(")")[-1].split()[0] != "Z"


def _read_pid(path: Path, deadline: float = 10.0) -> int:
    give_up = time.monotonic() + deadline
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < give_up, "the job never wrote its child's pid"
        time.sleep(0.05)
    return int(path.read_text())


def test_success_exits_zero_with_stdout_and_stderr_lines(process_runner, make_spec, run_to_end):
    state, lines, handle = run_to_end(
        process_runner, make_spec(["sh", "-c", "echo hello; echo oops >&2; echo bye"])
    )
    assert (state.phase, state.exit_code, state.reason) == (Phase.EXITED, 0, None)
    assert lines == ["hello", "oops", "bye"]
    events = process_runner.logs(handle, 0)
    assert all(abs(event.timestamp_ms - time.time() * 1000) < 60_000 for event in events)
    assert process_runner.logs(handle, 2) == events[2:]


def test_exit_code_three_is_reported(process_runner, make_spec, run_to_end):
    state, _, _ = run_to_end(process_runner, make_spec(["sh", "-c", "exit 3"]))
    assert (state.phase, state.exit_code) == (Phase.EXITED, 3)


def test_logs_arrive_while_the_process_runs(process_runner, make_spec, wait_for):
    handle = process_runner.start(make_spec(["sh", "-c", "echo one; sleep 2; echo two"]))
    give_up = time.monotonic() + 10
    while not process_runner.logs(handle, 0):
        assert time.monotonic() < give_up
        time.sleep(0.05)
    assert process_runner.poll(handle).phase is Phase.RUNNING
    assert wait_for(process_runner, handle).exit_code == 0
    assert [event.message for event in process_runner.logs(handle, 0)] == ["one", "two"]


def test_the_job_sees_its_batch_variables_and_the_emulator_endpoint(process_runner, make_spec, run_to_end):
    spec = make_spec(["env"], job_id="job-env", region="eu-west-1", account="210987654321")
    state, lines, _ = run_to_end(process_runner, spec)
    assert state.exit_code == 0
    for expected in (
        "AWS_BATCH_JOB_ID=job-env",
        "AWS_BATCH_JQ_NAME=queue-1",
        f"AWS_ENDPOINT_URL={ENDPOINT}",
        "AWS_REGION=eu-west-1",
        "AWS_DEFAULT_REGION=eu-west-1",
        "AWS_ACCESS_KEY_ID=210987654321",
        "AWS_EC2_METADATA_DISABLED=true",
    ):
        assert expected in lines
    assert any(line.startswith("PATH=") for line in lines)


def test_stop_kills_the_whole_process_group_within_seconds_with_exit_137(
    process_runner, make_spec, wait_for, tmp_path: Path
):
    pid_file = tmp_path / "child.pid"
    handle = process_runner.start(make_spec(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"]))
    child = _read_pid(pid_file)
    began = time.monotonic()
    process_runner.stop(handle, "Terminated by test")
    state = wait_for(process_runner, handle, deadline=10)
    assert (state.phase, state.exit_code) == (Phase.EXITED, 137)
    assert time.monotonic() - began < 5
    give_up = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < give_up, "the job's child outlived stop()"
        time.sleep(0.05)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(process_runner, make_spec, wait_for):
    handle = process_runner.start(make_spec(["sh", "-c", "trap '' TERM; echo ready; sleep 300"]))
    give_up = time.monotonic() + 10
    while not process_runner.logs(handle, 0):
        assert time.monotonic() < give_up
        time.sleep(0.05)
    process_runner.stop(handle, "Terminated by test")
    state = wait_for(process_runner, handle, deadline=10)
    assert (state.phase, state.exit_code) == (Phase.EXITED, 137)


def test_a_command_that_cannot_be_executed_fails_to_start(process_runner, make_spec):
    handle = process_runner.start(make_spec(["/no/such/program", "--flag"]))
    state = process_runner.poll(handle)
    assert state.phase is Phase.FAILED_TO_START
    assert "/no/such/program" in state.reason and state.reason.startswith("CannotStartContainerError: ")


def test_an_empty_command_fails_to_start(process_runner, make_spec):
    state = process_runner.poll(process_runner.start(make_spec([])))
    assert state.phase is Phase.FAILED_TO_START and "no command" in state.reason


def test_the_image_is_ignored_and_the_log_says_so_once(make_spec, run_to_end, caplog):
    runner = ProcessRunner(ENDPOINT)
    try:
        with caplog.at_level(logging.WARNING, logger="batchemu.runners.process"):
            for _ in range(2):
                assert run_to_end(runner, make_spec(["true"], image="some/image:tag"))[0].exit_code == 0
        warnings = [record for record in caplog.records if "ignores container images" in record.getMessage()]
        assert len(warnings) == 1
    finally:
        runner.close()


def test_close_kills_processes_still_running(make_spec, tmp_path: Path):
    runner = ProcessRunner(ENDPOINT)
    pid_file = tmp_path / "child.pid"
    runner.start(make_spec(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"]))
    child = _read_pid(pid_file)
    runner.close()
    give_up = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < give_up, "close() left the job running"
        time.sleep(0.05)


def test_halt_stops_the_whole_group_within_its_timeout_and_drains_the_output(make_spec, tmp_path: Path):
    runner = ProcessRunner(ENDPOINT)
    pid_file = tmp_path / "child.pid"
    handle = runner.start(
        make_spec(["sh", "-c", f"echo before; trap '' TERM; sleep 300 & echo $! > {pid_file}; wait"])
    )
    child = _read_pid(pid_file)
    try:
        began = time.monotonic()
        runner.halt([handle], timeout=3)
        assert time.monotonic() - began < 3.5
        state = runner.poll(handle)
        assert (state.phase, state.exit_code) == (Phase.EXITED, 137)
        assert [event.message for event in runner.logs(handle, 0)] == ["before"]
        assert not _alive(child)
    finally:
        runner.close()


def test_the_groups_of_a_dead_server_are_killed_and_a_live_ones_kept(tmp_path: Path):
    import subprocess

    from batchemu.runners import ownership
    from batchemu.runners.process_groups import GroupRecord, kill_orphans

    gone = subprocess.Popen(["sleep", "30"])
    dead_owner = ownership.Owner("dead", ownership.process_identity(gone.pid))
    gone.kill()
    gone.wait()
    jobs = [subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(2)]
    try:
        dead, live = GroupRecord(dead_owner, tmp_path), GroupRecord(ownership.this_server(), tmp_path)
        dead.add(jobs[0].pid)
        live.add(jobs[1].pid)
        assert kill_orphans(GroupRecord(ownership.this_server(), tmp_path)) == 1
        assert jobs[0].wait(timeout=5) == -9
        assert jobs[1].poll() is None
        assert not dead.path.exists() and live.path.exists()
        live.discard(jobs[1].pid)
        assert not live.path.exists()  # nothing left to record
    finally:
        for job in jobs:
            job.kill()
            job.wait()

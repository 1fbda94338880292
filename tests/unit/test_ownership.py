"""Who owns a job container, and when a starting server may remove it: a dead owner's containers go, a live
or unknown owner's stay, as do containers waiting for another state directory or kept by the user."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchemu.runners import ownership
from batchemu.runners.ownership import Action, Verdict

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
JOB = {ownership.MANAGED_LABEL: "1", ownership.JOB_ID_LABEL: "j-1", ownership.ATTEMPT_LABEL: "1"}


def labels_of(pid: int, **extra: str) -> dict[str, str]:
    identity = ownership.process_identity(pid)
    assert identity is not None
    return {**JOB, ownership.OWNER_LABEL: "abc", ownership.PROCESS_LABEL: identity, **extra}


def no_container(container_id: str) -> None:
    raise AssertionError("the process check was enough")


def test_this_process_is_alive() -> None:
    assert ownership.verdict(labels_of(os.getpid()), no_container) is Verdict.ALIVE


def test_a_process_that_exited_is_gone() -> None:
    child = subprocess.Popen(["sleep", "30"])
    labels = labels_of(child.pid)
    child.kill()
    child.wait()
    assert ownership.verdict(labels, no_container) is Verdict.GONE


def test_a_reused_pid_is_no_alibi() -> None:
    labels = labels_of(os.getpid())
    boot, namespace, pid, started = labels[ownership.PROCESS_LABEL].split("/")
    labels[ownership.PROCESS_LABEL] = f"{boot}/{namespace}/{pid}/{int(started) - 1}"
    assert ownership.verdict(labels, no_container) is Verdict.GONE


def test_a_process_in_another_pid_namespace_without_a_container_is_unknown() -> None:
    labels = labels_of(os.getpid())
    boot, _, pid, started = labels[ownership.PROCESS_LABEL].split("/")
    labels[ownership.PROCESS_LABEL] = f"{boot}/1/{pid}/{started}"
    assert ownership.verdict(labels, no_container) is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, Verdict.GONE),
        ({"Running": False, "StartedAt": "t1"}, Verdict.GONE),
        ({"Running": True, "StartedAt": "t2"}, Verdict.GONE),  # restarted: another server process
        ({"Running": True, "StartedAt": "t1"}, Verdict.ALIVE),
    ],
)
def test_a_server_in_a_container_is_judged_by_its_container(state: dict | None, expected: Verdict) -> None:
    labels = {**JOB, ownership.OWNER_LABEL: "abc", ownership.PROCESS_LABEL: "other-boot/1/1/5"}
    labels[ownership.CONTAINER_LABEL] = "c0ffee/t1"
    assert ownership.verdict(labels, lambda container_id: state) is expected


def test_the_own_container_id_is_read_from_the_mounts(tmp_path: Path) -> None:
    container_id = "a" * 64
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text(
        f"1 2 0:1 /var/lib/docker/containers/{container_id}/hostname /etc/hostname rw - ext4 /dev/x rw\n"
    )
    assert ownership.own_container_id(str(tmp_path)) == container_id
    (tmp_path / "self" / "mountinfo").write_text("1 2 0:1 / / rw - ext4 /dev/x rw\n")
    assert ownership.own_container_id(str(tmp_path)) is None


OWNED = {**JOB, ownership.OWNER_LABEL: "abc"}


@pytest.mark.parametrize(
    ("labels", "status", "verdict", "state_id", "expected"),
    [
        (OWNED, "running", Verdict.GONE, None, Action.REMOVE),
        (OWNED, "exited", Verdict.GONE, None, Action.REMOVE),
        (OWNED, "running", Verdict.ALIVE, None, Action.LEAVE),
        (OWNED, "running", Verdict.UNKNOWN, None, Action.LEAVE),
        ({**OWNED, ownership.STATE_LABEL: "s1"}, "running", Verdict.GONE, None, Action.LEAVE),
        ({**OWNED, ownership.STATE_LABEL: "s1"}, "running", Verdict.GONE, "s2", Action.LEAVE),
        ({**OWNED, ownership.STATE_LABEL: "s1"}, "running", Verdict.GONE, "s1", Action.REMOVE),
        ({**OWNED, ownership.KEEP_LABEL: "1"}, "running", Verdict.GONE, None, Action.KILL),
        ({**OWNED, ownership.KEEP_LABEL: "1"}, "exited", Verdict.GONE, None, Action.LEAVE),
    ],
)
def test_what_a_starting_server_does_with_a_labelled_container(
    labels: dict[str, str], status: str, verdict: Verdict, state_id: str | None, expected: Action
) -> None:
    assert ownership.action(labels, status, "", verdict, state_id, NOW) is expected


def finished(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


@pytest.mark.parametrize(
    ("labels", "status", "finished_at", "expected"),
    [
        (JOB, "running", "0001-01-01T00:00:00Z", Action.LEAVE),  # its server may be alive
        (JOB, "exited", finished(60), Action.LEAVE),  # its server may still read its logs
        (JOB, "exited", finished(2 * 3600), Action.REMOVE),
        (JOB, "dead", finished(2 * 3600), Action.REMOVE),
        ({ownership.MANAGED_LABEL: "1"}, "exited", finished(2 * 3600), Action.LEAVE),  # not a job's
        (JOB, "created", "0001-01-01T00:00:00Z", Action.LEAVE),
    ],
)
def test_containers_of_older_versions_without_an_owner(
    labels: dict[str, str], status: str, finished_at: str, expected: Action
) -> None:
    assert ownership.action(labels, status, finished_at, Verdict.UNKNOWN, None, NOW) is expected


def test_owner_labels_name_the_instance_process_and_state() -> None:
    owner = ownership.this_server(state_id="s1", keep=True, state_path="/tmp")
    labels = owner.labels()
    assert labels[ownership.OWNER_LABEL] == owner.instance
    assert labels[ownership.PROCESS_LABEL].split("/")[2] == str(os.getpid())
    assert (labels[ownership.STATE_LABEL], labels[ownership.KEEP_LABEL]) == ("s1", "1")
    assert labels[ownership.STATE_PATH_LABEL] == os.path.realpath("/tmp")
    assert ownership.CONTAINER_LABEL not in labels


def test_a_dead_servers_container_waiting_for_a_state_folder_that_is_gone_is_removed() -> None:
    labels = {**OWNED, ownership.STATE_LABEL: "s1"}
    assert ownership.action(labels, "running", "", Verdict.GONE, "s2", NOW, state_gone=True) is Action.REMOVE
    assert ownership.action(labels, "running", "", Verdict.ALIVE, "s2", NOW, state_gone=True) is Action.LEAVE

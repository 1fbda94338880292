"""Which server owns a job container, and whether that server is provably gone. Every container carries
labels naming its server (a random instance id; the host boot, PID namespace, pid and start time of the
server's process; the server's own container when it runs in one), so a server starting on a shared
engine removes the containers of dead servers and never those of a live one. Standard library only."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MANAGED_LABEL = "batchemu"
JOB_ID_LABEL = "batchemu.job-id"
ATTEMPT_LABEL = "batchemu.attempt"
TASK_CONTAINER_LABEL = "batchemu.task-container"  # the container's name in its multi-container task
OWNER_LABEL = "batchemu.owner"  # the server instance: random per server
PROCESS_LABEL = "batchemu.owner-process"  # "<boot id>/<pid namespace>/<pid>/<start time in ticks>"
CONTAINER_LABEL = "batchemu.owner-container"  # "<container id>/<StartedAt>" when the server runs in one
STATE_LABEL = "batchemu.state-id"  # the state directory that may re-attach the container after a restart
STATE_PATH_LABEL = "batchemu.state-path"  # where that directory was, as its server saw it
KEEP_LABEL = "batchemu.keep"  # --keep-containers: never removed by anyone but the user
# Containers of batchemu versions without owner labels: exited ones this old are removed (a live server
# of such a version releases its exited containers within seconds, so this old means nobody reads them).
LEGACY_EXITED_SECONDS = 3600
_CONTAINER_ID = re.compile(r"/(?:docker/containers|containers/overlay-containers)/([0-9a-f]{64})/")


class Verdict(StrEnum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # cannot be proved either way: treated as alive


class Action(StrEnum):
    LEAVE = "leave"
    KILL = "kill"  # stop it, keep the container (--keep-containers)
    REMOVE = "remove"  # stop and remove


@dataclass(frozen=True)
class Owner:
    """The server that starts containers: what it writes on each of them."""

    instance: str
    process: str | None
    container: str | None = None
    state_id: str | None = None
    keep: bool = False
    state_path: str | None = None

    def labels(self) -> dict[str, str]:
        labels = {OWNER_LABEL: self.instance}
        optional = {
            PROCESS_LABEL: self.process,
            CONTAINER_LABEL: self.container,
            STATE_LABEL: self.state_id,
            STATE_PATH_LABEL: self.state_path,
        }
        labels.update({name: value for name, value in optional.items() if value})
        if self.keep:
            labels[KEEP_LABEL] = "1"
        return labels


def this_server(
    container: str | None = None,
    state_id: str | None = None,
    keep: bool = False,
    state_path: str | None = None,
    proc: str = "/proc",
) -> Owner:
    path = os.path.realpath(state_path) if state_path else None
    return Owner(secrets.token_hex(8), process_identity(os.getpid(), proc), container, state_id, keep, path)


def process_identity(pid: int, proc: str = "/proc") -> str | None:
    """ "<boot id>/<pid namespace>/<pid>/<start ticks>" of a process of this kernel, None when unreadable
    (not Linux, no such process, a zombie)."""
    try:
        with open(f"{proc}/sys/kernel/random/boot_id") as file:
            boot = file.read().strip()
        namespace = os.stat(f"{proc}/self/ns/pid").st_ino
        started = _start_ticks(pid, proc)
    except OSError:
        return None
    return None if started is None else f"{boot}/{namespace}/{pid}/{started}"


def _start_ticks(pid: int, proc: str) -> str | None:
    with open(f"{proc}/{pid}/stat") as file:
        stat = file.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    state, started = fields[0], fields[19]
    return None if state in ("Z", "X") else started  # a zombie has exited already


def own_container_id(proc: str = "/proc") -> str | None:
    """The id of the Docker (or Podman) container this process runs in, read from its mounts."""
    try:
        with open(f"{proc}/self/mountinfo") as file:
            match = _CONTAINER_ID.search(file.read())
    except OSError:
        return None
    return match.group(1) if match else None


def same_host(labels: dict[str, str], proc: str = "/proc") -> bool:
    """Whether the labelling server ran on this kernel in this PID namespace (so, most likely, saw the
    same files)."""
    parts = labels.get(PROCESS_LABEL, "").split("/")
    mine = (process_identity(os.getpid(), proc) or "").split("/")
    return len(parts) == 4 and len(mine) == 4 and parts[:2] == mine[:2]


def verdict(
    labels: dict[str, str],
    container_state: Callable[[str], dict[str, Any] | None],
    proc: str = "/proc",
) -> Verdict:
    """Whether the server that labelled a container is alive. Its process is checked when it ran on this
    kernel in this PID namespace (pid and start time, so a reused pid is no alibi); else its own container,
    through the engine (`container_state(id)` -> the engine's State, or None when there is no such
    container); else it is unknown."""
    parts = labels.get(PROCESS_LABEL, "").split("/")
    if same_host(labels, proc):
        try:
            started = _start_ticks(int(parts[2]), proc)
        except (OSError, ValueError, IndexError):
            started = None
        return Verdict.ALIVE if started == parts[3] else Verdict.GONE
    if labels.get(CONTAINER_LABEL):
        container_id, _, started_at = labels[CONTAINER_LABEL].partition("/")
        state = container_state(container_id)
        if state is None or not state.get("Running"):
            return Verdict.GONE
        return Verdict.ALIVE if state.get("StartedAt") == started_at else Verdict.GONE
    return Verdict.UNKNOWN


def action(
    labels: dict[str, str],
    status: str,
    finished_at: str,
    owner_verdict: Verdict,
    state_id: str | None,
    now: datetime | None = None,
    state_gone: bool = False,
) -> Action:
    """What a starting server does with a container labelled `labels` (a batchemu job container) whose
    engine status is `status` ("running", "exited"...): containers of live or unknown servers are left;
    those of a dead server are removed, unless they wait for their state directory to re-attach them
    (another one than ours, which still exists: not `state_gone`) or the user asked to keep containers
    (then they are only stopped)."""
    if OWNER_LABEL not in labels:
        return _legacy_action(labels, status, finished_at, now)
    if owner_verdict is not Verdict.GONE:
        return Action.LEAVE
    if labels.get(STATE_LABEL) and labels[STATE_LABEL] != state_id and not state_gone:
        return Action.LEAVE
    if labels.get(KEEP_LABEL):
        return Action.KILL if status == "running" else Action.LEAVE
    return Action.REMOVE


def _legacy_action(labels: dict[str, str], status: str, finished_at: str, now: datetime | None) -> Action:
    """Older batchemu versions labelled containers without an owner: running ones are never touched (their
    server may be alive); exited job containers (both job labels) are removed once long finished."""
    if status not in ("exited", "dead") or not (labels.get(JOB_ID_LABEL) and labels.get(ATTEMPT_LABEL)):
        return Action.LEAVE
    finished = _parse_time(finished_at)
    if finished is None:
        return Action.LEAVE
    age = ((now or datetime.now(UTC)) - finished).total_seconds()
    return Action.REMOVE if age >= LEGACY_EXITED_SECONDS else Action.LEAVE


def _parse_time(text: str) -> datetime | None:
    """Docker's RFC 3339 times with nanoseconds ("2026-12-01T08:37:34.123456789Z")."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", text or "")
    if match is None or match.group(1).startswith("0001-"):
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)

"""The process runner's record of the process groups each server started: one small JSON file per server
in $TMPDIR/batchemu-<uid>/process-groups, naming the server (runners/ownership.py) and each group's leader,
so that a server starting after an unclean end (`kill -9`) kills the groups of servers that are provably
gone. Standard library and runners.ownership only."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
import threading
from pathlib import Path

from batchemu.runners import ownership
from batchemu.runners.ownership import Owner, Verdict

log = logging.getLogger("batchemu.runners.process")


def default_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"batchemu-{os.getuid()}" / "process-groups"


class GroupRecord:
    """The groups one server has running, rewritten (atomically) whenever one starts or ends."""

    def __init__(self, owner: Owner, folder: Path | None = None) -> None:
        self.owner = owner
        self.folder = folder or default_folder()
        self.path = self.folder / f"{owner.instance}.json"
        self._leaders: dict[int, str] = {}  # leader pid -> its process identity (pid reuse is no match)
        self._lock = threading.Lock()

    def add(self, pid: int) -> None:
        identity = ownership.process_identity(pid)
        with self._lock:
            self._leaders[pid] = identity or ""
            self._write()

    def discard(self, pid: int) -> None:
        with self._lock:
            if self._leaders.pop(pid, None) is not None:
                self._write()

    def close(self) -> None:
        with self._lock:
            self._leaders.clear()
            with contextlib.suppress(OSError):
                self.path.unlink()

    def _write(self) -> None:
        if not self._leaders:
            with contextlib.suppress(OSError):
                self.path.unlink()
            return
        record = {"instance": self.owner.instance, "process": self.owner.process, "leaders": self._leaders}
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = self.path.with_suffix(".tmp")
            partial.write_text(json.dumps(record))
            partial.replace(self.path)
        except OSError as error:  # a read-only /tmp must not stop jobs from running
            log.debug("could not record process groups in %s: %s", self.path, error)


def kill_orphans(mine: GroupRecord) -> int:
    """Kills the process groups recorded by servers that are provably gone; returns how many."""
    killed = 0
    for path in sorted(mine.folder.glob("*.json")) if mine.folder.is_dir() else []:
        if path == mine.path:
            continue
        try:
            record = json.loads(path.read_text())
            labels = {
                ownership.OWNER_LABEL: record["instance"],
                ownership.PROCESS_LABEL: record["process"] or "",
            }
            leaders = {int(pid): identity for pid, identity in record["leaders"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if ownership.verdict(labels, lambda container_id: None) is not Verdict.GONE:
            continue
        for pid, identity in leaders.items():
            killed += _kill_group(pid, identity)
        with contextlib.suppress(OSError):
            path.unlink()
    if killed:
        log.info("killed %d job process groups left behind by batchemu servers that are gone", killed)
    return killed


def _kill_group(pid: int, identity: str) -> int:
    """The leader may have exited while its group lives on (a pid stays taken while its group exists);
    a leader pid now held by another process is not ours."""
    now = ownership.process_identity(pid)
    if now is not None and now != identity:
        return 0
    try:
        os.killpg(pid, signal.SIGKILL)
        return 1
    except (ProcessLookupError, PermissionError):
        return 0

"""Docker's timestamped log lines read incrementally: where the next read starts, and which lines it adds
(shared by the docker and swarm runners). Imports runners.base (and container_runner's types) only."""

from __future__ import annotations

import calendar
import re
import time
from collections import Counter
from typing import TYPE_CHECKING

from batchemu.runners.base import LogEvent

if TYPE_CHECKING:
    from batchemu.runners.container_runner import ContainerAttempt

_LOG_OVERLAP_NS = 2_000_000_000
_TIMESTAMPED_LINE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ?(.*)$", re.DOTALL)


def log_since(attempt: ContainerAttempt) -> float | None:
    """Seconds since the epoch to read logs from: _LOG_OVERLAP_NS before the newest line read."""
    if not attempt.newest_log_ns:
        return None
    return (attempt.newest_log_ns - _LOG_OVERLAP_NS) / 1e9


def absorb_log_lines(attempt: ContainerAttempt, raw: bytes) -> None:
    """Append the timestamped lines of `raw` not read yet. stdout and stderr lines may be stored slightly
    out of timestamp order, so each read reaches _LOG_OVERLAP_NS back and skips lines counted by earlier
    reads. Shared with the swarm runner (service logs have the same form)."""
    floor = attempt.newest_log_ns - _LOG_OVERLAP_NS
    occurrences: Counter[tuple[int, bytes]] = Counter()
    fresh: list[LogEvent] = []
    for line in raw.split(b"\n"):
        match = _TIMESTAMPED_LINE.match(line)
        if match is None:
            continue
        stamp = _timestamp_ns(match.group(1), match.group(2))
        key = (stamp, match.group(3))
        occurrences[key] += 1
        if stamp < floor or occurrences[key] <= attempt.recent_lines[key]:
            continue
        attempt.recent_lines[key] += 1
        attempt.newest_log_ns = max(attempt.newest_log_ns, stamp)
        message = match.group(3).decode("utf-8", errors="replace").rstrip("\r")
        fresh.append(LogEvent(stamp // 1_000_000, message))
    floor = attempt.newest_log_ns - _LOG_OVERLAP_NS
    for key in [key for key in attempt.recent_lines if key[0] < floor]:
        del attempt.recent_lines[key]
    with attempt.lock:
        attempt.events.extend(fresh)


def _timestamp_ns(seconds_text: bytes, fraction: bytes | None) -> int:
    seconds = calendar.timegm(time.strptime(seconds_text.decode(), "%Y-%m-%dT%H:%M:%S"))
    nanos = int((fraction or b"0").decode().ljust(9, "0")[:9])
    return seconds * 1_000_000_000 + nanos

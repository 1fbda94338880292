"""Runs nothing: an attempt lasts BATCHEMU_SIMULATE_SECONDS of clock time (default 0) and exits with
BATCHEMU_SIMULATE_EXIT_CODE (default 0), both read from the job's container environment. Deterministic
under a FakeClock."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchemu.clock import Clock, to_millis
from batchemu.runners.base import ContainerSpec, LogEvent, Phase, RunState

EXIT_CODE_VARIABLE = "BATCHEMU_SIMULATE_EXIT_CODE"
SECONDS_VARIABLE = "BATCHEMU_SIMULATE_SECONDS"
REASON_VARIABLE = "BATCHEMU_SIMULATE_REASON"
START_FAILURE_VARIABLE = "BATCHEMU_SIMULATE_START_FAILURE"


@dataclass(slots=True)
class SimulatedAttempt:
    spec: ContainerSpec
    started: float
    seconds: float
    exit_code: int
    reason: str | None
    start_failure: str | None
    stopped_exit_code: int | None = None
    log: list[LogEvent] = field(default_factory=list)


class SimulatedRunner:
    name = "simulated"

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def start(self, spec: ContainerSpec) -> SimulatedAttempt:
        env = spec.environment
        now = self._clock.now()
        attempt = SimulatedAttempt(
            spec=spec,
            started=now,
            seconds=_number(env.get(SECONDS_VARIABLE), 0.0),
            exit_code=int(_number(env.get(EXIT_CODE_VARIABLE), 0)),
            reason=env.get(REASON_VARIABLE) or None,
            start_failure=env.get(START_FAILURE_VARIABLE) or None,
        )
        attempt.log.append(LogEvent(to_millis(now), f"simulated: {' '.join(spec.command)}"))
        return attempt

    def poll(self, handle: SimulatedAttempt) -> RunState:
        if handle.start_failure:
            return RunState(Phase.FAILED_TO_START, reason=handle.start_failure)
        if handle.stopped_exit_code is not None:
            return _exited(handle.stopped_exit_code, None)
        if self._clock.now() - handle.started >= handle.seconds:
            return _exited(handle.exit_code, handle.reason)
        return _RUNNING

    def next_change(self, handle: SimulatedAttempt) -> float | None:
        """The clock time until which poll() answers RUNNING (unless stopped): the scheduler polls then."""
        if handle.start_failure or handle.stopped_exit_code is not None:
            return None
        return handle.started + handle.seconds

    def stop(self, handle: SimulatedAttempt, reason: str) -> None:
        if handle.stopped_exit_code is None:
            handle.stopped_exit_code = 137  # SIGKILL, as a killed container reports

    def logs(self, handle: SimulatedAttempt, since: int) -> list[LogEvent]:
        return handle.log[since:]

    def halt(self, handles: list[SimulatedAttempt], timeout: float) -> None:
        for handle in handles:
            self.stop(handle, "halted")

    def close(self, leave_running: bool = False) -> None:
        pass


# RunStates are frozen values: the common ones are made once, not at every poll of every attempt.
_RUNNING = RunState(Phase.RUNNING)
_EXITED: dict[tuple[int, str | None], RunState] = {}


def _exited(exit_code: int, reason: str | None) -> RunState:
    key = (exit_code, reason)
    found = _EXITED.get(key)
    if found is None:
        found = RunState(Phase.EXITED, exit_code=exit_code, reason=reason)
        if len(_EXITED) < 256:
            _EXITED[key] = found
    return found


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default

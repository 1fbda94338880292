"""Step Functions' time on the emulator's clock: Wait states (seconds and timestamps), Retry intervals, and task
and execution timeouts, so a fake clock steps them. The two timeouts are moto functions rebuilt here, checked
against the hash of the source they were ported from. Imports moto (lazily) and moto_sfn_runtime."""

from __future__ import annotations

import datetime
import threading
from typing import Any

from batchemu.integrations.moto_sfn_runtime import call_at, now, wait_until


def hook_waits() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            wait_until(env, now() + wait_seconds)

    WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]

    def timestamp_wait_seconds(self: Any, env: Any) -> int:
        # moto compares with the machine's local wall time; the emulator's clock decides here (in UTC).
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEventException,
        )

        self.string.eval(env=env)
        text: str = env.stack.pop()
        moment = self._from_timestamp_string(timestamp=text)
        if moment is None:
            raise FailureEventException(self._create_failure_event(env, text))
        return int(moment.replace(tzinfo=datetime.UTC).timestamp() - now())

    Timestamp._get_wait_seconds = timestamp_wait_seconds  # type: ignore[method-assign]


def hook_retries() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class _ClockTime:
        """retrier_decl's `time`: its one use is time.sleep(interval) between attempts."""

        @staticmethod
        def sleep(seconds: float) -> None:
            env = _current_env.get()
            if env is None:
                import time

                time.sleep(seconds)
            else:
                wait_until(env, now() + seconds)

        def __getattr__(self, name: str) -> Any:
            import time

            return getattr(time, name)

    original_eval = retrier_decl.RetrierDecl._eval_body

    def eval_body(self: Any, env: Any) -> None:
        token = _current_env.set(env)
        try:
            original_eval(self, env)
        finally:
            _current_env.reset(token)

    retrier_decl.time = _ClockTime()  # type: ignore[assignment]
    retrier_decl.RetrierDecl._eval_body = eval_body  # type: ignore[method-assign]


def _make_context_var() -> Any:
    import contextvars

    return contextvars.ContextVar("batchemu_sfn_env", default=None)


_current_env = _make_context_var()


# Functions rebuilt here rather than wrapped, by the hash of the moto source they were ported from: when moto


# changes one, it is left as moto has it (with a warning) instead of replaced by a stale port.
PORTED = {
    "ExecutionState._evaluate_with_timeout": "c56deda08a42e98d",
    "Program.eval": "6d701880064a8970",
}


def source_hash(function: Any) -> str:
    import hashlib
    import inspect

    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def ported_sources_match() -> dict[str, bool]:
    """Whether each function ported from moto still has the source it was ported from."""
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    originals = {
        "ExecutionState._evaluate_with_timeout": _ORIGINALS.get("_evaluate_with_timeout")
        or execute_state.ExecutionState._evaluate_with_timeout,
        "Program.eval": _ORIGINALS.get("Program.eval") or program.Program.eval,
    }
    return {name: source_hash(function) == PORTED[name] for name, function in originals.items()}


_ORIGINALS: dict[str, Any] = {}


def hook_timeouts() -> None:
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    _ORIGINALS["_evaluate_with_timeout"] = execute_state.ExecutionState._evaluate_with_timeout
    _ORIGINALS["Program.eval"] = program.Program.eval
    stale = [name for name, same in ported_sources_match().items() if not same]
    if stale:
        raise RuntimeError(
            f"moto changed {', '.join(stale)} since batchemu ported it; timeouts use the wall clock"
        )

    def program_eval(self: Any, env: Any) -> None:
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        env.next_state_name = self.start_at.start_at_name
        done = threading.Event()

        def run() -> None:
            try:
                super(program.Program, self).eval(env)  # what moto's own thread runs
            finally:
                done.set()

        worker = threading.Thread(target=run, daemon=True, name="batchemu-sfn-execution")
        program.TMP_THREADS.append(worker)
        worker.start()
        if timeout is None:
            done.wait()
            return
        timer = call_at(now() + timeout, done.set)
        done.wait()
        timer.cancel()
        if worker.is_alive():
            env.set_timed_out()

    program.Program.eval = program_eval  # type: ignore[method-assign]
    execute_state.ExecutionState._evaluate_with_timeout = _evaluate_with_timeout  # type: ignore[method-assign]


def _evaluate_with_timeout(self: Any, env: Any) -> None:
    """moto's ExecutionState._evaluate_with_timeout with the wait on the emulator's clock."""
    import copy

    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    self.timeout.eval(env=env)
    timeout_seconds: int = env.stack.pop()
    frame = env.open_frame()
    frame.states.reset(input_value=env.states.get_input())
    frame.stack = copy.deepcopy(env.stack)
    outputs: list[Any] = []
    exceptions: list[Exception | None] = [None]
    terminated = threading.Event()
    timed_out = threading.Event()

    def run() -> None:
        try:
            self._eval_execution(frame)
            outputs.extend(frame.stack)
        except Exception as error:
            exceptions.append(error)
        terminated.set()

    worker = threading.Thread(target=run, daemon=True, name="batchemu-sfn-task")
    execute_state.TMP_THREADS.append(worker)
    worker.start()

    def time_out() -> None:
        if not terminated.is_set():
            timed_out.set()
            terminated.set()

    timer = call_at(now() + timeout_seconds, time_out)
    terminated.wait()
    timer.cancel()
    finished_on_time = not timed_out.is_set()
    frame.set_ended()
    env.close_frame(frame)
    exception = exceptions.pop()
    if exception:
        raise exception
    if not finished_on_time:
        raise execute_state.EvalTimeoutError()
    output = outputs.pop()
    env.stack.append(output)
    if not self._is_language_query_jsonpath():
        env.states.set_result(output)
    if self.assign_decl:
        self.assign_decl.eval(env=env)
    if self.result_selector:
        self.result_selector.eval(env=env)
    if self.result_path:
        self.result_path.eval(env)
    else:
        env.states.reset(input_value=env.stack.pop())

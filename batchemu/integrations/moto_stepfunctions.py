"""The adapter that makes moto's ASL interpreter run executions against batchemu, and the only place batchemu
changes moto's Step Functions. It may import moto and botocore (lazily), the standard library and
moto_imports, nothing else of batchemu's: what it needs of the emulator comes through the `Driver` it is given.

moto 5.2's interpreter (`moto/stepfunctions/parser`, ported from LocalStack) runs an execution when the
user config `stepfunctions.execute_state_machine` is on. What is changed, each at one hook point:
- its service clients (`boto_client_for`, imported by name into 13 modules) reach this endpoint as the
  execution's account (from the role's ARN), not `localhost:5000` with the access key `ak`;
- the PascalCase <-> API-casing conversion of task parameters and results, empty in moto's base class
  (getmoto/moto#10076), is restored from botocore's shapes (`StateTaskService._normalise_parameters` and
  `_normalise_response`), so every service integration, Batch's first, gets its parameters;
- Batch's `submitJob` passes every SubmitJob member through (moto keeps a fixed list) and `.sync` waits on
  the job's terminal transition (`Driver.on_job_end`) instead of polling DescribeJobs every 0.5 s; when the
  execution stops or the task times out while it waits, the job is terminated (`StateTaskServiceBatch`);
- Wait states (seconds and timestamps), Retry intervals, task `TimeoutSeconds` and the execution's
  `TimeoutSeconds` run on the emulator's clock (`Driver.call_at`), so a fake clock steps them.
Tested with moto 5.2.5; other 5.x versions are tried with a warning; a missing hook point logs a warning and
leaves that part as moto has it.
"""

from __future__ import annotations

import datetime
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from batchemu.integrations.moto_imports import after_import

log = logging.getLogger("batchemu.stepfunctions")

TESTED_MOTO = "5.2.5"
ABORTED_REASON = "The Task state in AWS Step Functions execution {arn} which was managing this resource was aborted"
TERMINAL_JOB_STATUSES = ("SUCCEEDED", "FAILED")


class Cancel(Protocol):
    def cancel(self) -> None: ...


class Driver(Protocol):
    """What the interpreter needs of the emulator."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Cancel: ...

    def client(self, service: str, region: str, account: str) -> Any: ...

    def on_job_end(self, account: str, region: str, job_id: str, callback: Callable[[], None]) -> Cancel: ...


_drivers: list[weakref.ref[Any]] = []
_lock = threading.Lock()
_installed: bool | None = None


def register_driver(driver: Driver) -> None:
    """Executions run against `driver` from now on (held weakly; the newest live one wins). moto's
    interpreter is hooked once moto's Step Functions is imported (at once if it already is): importing it
    loads moto's Batch and EC2, a second that a user who never calls Step Functions should not wait."""
    with _lock:
        _drivers.append(weakref.ref(driver))
    after_import(("moto.stepfunctions",), install)


def install() -> bool:
    """Hooks moto's interpreter (once); True when it is hooked."""
    with _lock:
        return _install()


def unregister_driver(driver: Driver) -> None:
    with _lock:
        _drivers[:] = [ref for ref in _drivers if ref() is not None and ref() is not driver]


def current_driver() -> Any:
    with _lock:
        for ref in reversed(_drivers):
            driver = ref()
            if driver is not None:
                return driver
    return None


def stop_running_executions(cause: str) -> int:
    """Stops every RUNNING execution of this process's moto (a reset: their waits on the emulator's clock
    would otherwise wait on timers that no longer exist); returns how many."""
    if "moto.stepfunctions.parser.models" not in sys.modules:
        return 0  # never loaded: nothing runs
    try:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    except Exception:
        return 0
    stopped = 0
    now = datetime.datetime.now(tz=datetime.UTC)
    for regions in list(dict.values(stepfunctions_parser_backends)):
        for backend in list(dict.values(regions)):
            for machine in list(getattr(backend, "state_machines", [])):
                for execution in list(getattr(machine, "executions", [])):
                    if getattr(execution, "exec_status", None) == "RUNNING":
                        execution.stop(stop_date=now, error="batchemu.Reset", cause=cause)
                        stopped += 1
    return stopped


def account_of(role_arn: str | None, default: str = "123456789012") -> str:
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() and len(parts[4]) == 12 else default


def _install() -> bool:
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    try:
        import moto
        from moto.core.config import default_user_config
    except Exception as error:  # moto missing or broken: Batch itself still works
        log.warning("moto's Step Functions is unavailable (%s); executions will not run", error)
        return False
    if str(moto.__version__) != TESTED_MOTO:
        log.warning("moto %s is untested (tested with %s); hooking Step Functions anyway", moto.__version__, TESTED_MOTO)
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    for name, hook in _HOOKS:
        try:
            hook()
        except Exception as error:
            log.warning("moto %s: could not hook Step Functions' %s (%s); left as moto has it", moto.__version__, name, error)
    _installed = True
    return True


# -- service clients ---------------------------------------------------------------------------------
def _hook_clients() -> None:
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        driver = current_driver()
        if driver is None:
            return original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        return driver.client(service, region, account_of(role_arn))

    boto_client.boto_client_for = boto_client_for
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is original
        ):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    _import_services()  # modules imported later take the patched function from boto_client
    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def _import_services() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
        state_task_service_factory,
    )


# -- PascalCase <-> API casing ---------------------------------------------------------------------------
@cache
def operation_model(service: str, action: str) -> Any:
    """botocore's model of `action` (snake_case, e.g. submit_job) of `service`, or None."""
    import botocore.session
    from botocore import xform_name

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:
        return None
    for name in model.operation_names:
        if xform_name(name) == action or name == action:
            return model.operation_model(name)
    return None


def _hook_casing() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    def normalise_parameters(
        self: Any, parameters: dict, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        operation = operation_model(
            self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
        )
        if operation is not None and operation.input_shape is not None and isinstance(parameters, dict):
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(
        self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        operation = operation_model(
            self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
        )
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)

    for klass in (StateTaskService,):
        if "_normalise_parameters" not in vars(klass) or "_normalise_response" not in vars(klass):
            raise AttributeError("StateTaskService._normalise_parameters/_normalise_response")
        klass._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
        klass._normalise_response = normalise_response  # type: ignore[method-assign]


# -- waiting on the emulator's clock and on jobs -----------------------------------------------------------
def _hook_environment() -> None:
    """Every change of an execution's program state (ended, failed, stopped, timed out) also wakes the
    waits registered on that environment, so a wait never polls for a stop."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    for name in ("set_ended", "set_error", "set_timed_out", "set_stop"):
        original = getattr(Environment, name)

        def wrapper(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            try:
                return __original(self, *args, **kwargs)
            finally:
                for woken in list(getattr(self, "_batchemu_wakers", ())):
                    woken.set()

        setattr(Environment, name, wrapper)


def wait_until(env: Any, when: float, also: Callable[[Callable[[], None]], Cancel] | None = None) -> bool:
    """Blocks the calling execution thread until the emulator's clock reads `when`, the execution (or its
    frame) stops running, or `also` (given the waker) fires; True when it woke on time or by `also`."""
    driver = current_driver()
    woken = threading.Event()
    wakers: set[threading.Event] = env.__dict__.setdefault("_batchemu_wakers", set())
    wakers.add(woken)
    handles: list[Cancel] = []
    try:
        if driver is not None and when != float("inf"):
            handles.append(driver.call_at(when, woken.set))
        if also is not None:
            handles.append(also(woken.set))
        while env.is_running() and not woken.is_set():
            woken.wait(5.0)  # the timer or a state change sets it; the timeout is only a safety net
        return woken.is_set() and env.is_running()
    finally:
        wakers.discard(woken)
        for handle in handles:
            handle.cancel()


def _now() -> float:
    driver = current_driver()
    if driver is None:
        import time

        return time.time()
    return float(driver.now())


def _hook_waits() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            wait_until(env, _now() + wait_seconds)

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
        return int(moment.replace(tzinfo=datetime.UTC).timestamp() - _now())

    Timestamp._get_wait_seconds = timestamp_wait_seconds  # type: ignore[method-assign]


def _hook_retries() -> None:
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
                wait_until(env, _now() + seconds)

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


def _hook_timeouts() -> None:
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    _ORIGINALS["_evaluate_with_timeout"] = execute_state.ExecutionState._evaluate_with_timeout
    _ORIGINALS["Program.eval"] = program.Program.eval
    stale = [name for name, same in ported_sources_match().items() if not same]
    if stale:
        raise RuntimeError(f"moto changed {', '.join(stale)} since batchemu ported it; timeouts use the wall clock")

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
        timer = _call_at(_now() + timeout, done.set)
        done.wait()
        timer.cancel()
        if worker.is_alive():
            env.set_timed_out()

    program.Program.eval = program_eval  # type: ignore[method-assign]
    execute_state.ExecutionState._evaluate_with_timeout = _evaluate_with_timeout  # type: ignore[method-assign]


class _NoTimer:
    def cancel(self) -> None:
        pass


def _call_at(when: float, callback: Callable[[], None]) -> Cancel:
    driver = current_driver()
    if driver is None or when == float("inf"):
        return _NoTimer()
    return driver.call_at(when, callback)  # type: ignore[no-any-return]


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

    timer = _call_at(_now() + timeout_seconds, time_out)
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


# -- Batch ---------------------------------------------------------------------------------------------
@cache
def submit_job_members() -> frozenset[str]:
    """SubmitJob's request members as Step Functions names them (PascalCase)."""
    operation = operation_model("batch", "submit_job")
    return frozenset(name[:1].upper() + name[1:] for name in operation.input_shape.members)


def _hook_batch() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_batch

    klass = state_task_service_batch.StateTaskServiceBatch

    def supported_parameters(self: Any) -> set[str] | None:
        return set(submit_job_members()) if self.resource.api_action.lower() == "submitjob" else None

    klass._get_supported_parameters = supported_parameters  # type: ignore[method-assign]
    klass._build_sync_resolver = _build_sync_resolver  # type: ignore[method-assign]


def _build_sync_resolver(
    self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
) -> Callable[[], Any]:
    """`.sync`: block on the job's terminal transition (or the execution's end), then answer as moto does:
    the job as DescribeJobs shows it in PascalCase, or States.TaskFailed with that job as the cause."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    region = resource_runtime_part.region
    account = account_of(getattr(state_credentials, "role_arn", None), env.aws_execution_details.account)
    submitted: dict = env.stack.pop()
    job_id = submitted["JobId"]
    driver = current_driver()

    def resolve() -> dict | None:
        batch = driver.client("batch", region, account)
        ended = wait_until(
            env, float("inf"), also=lambda wake: driver.on_job_end(account, region, job_id, wake)
        )
        if not ended:
            _terminate(batch, job_id, env)
            return None
        response = batch.describe_jobs(jobs=[job_id])
        response.pop("ResponseMetadata", None)
        self._normalise_response(response=response, service_action_name="describe_jobs")
        job = response["Jobs"][0]
        if job["Status"] == "SUCCEEDED":
            return job  # type: ignore[no-any-return]
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=to_json_str(job),
                    )
                ),
            )
        )

    if driver is None:
        raise RuntimeError("no batchemu emulator serves Step Functions' Batch tasks")
    return resolve


def _terminate(batch: Any, job_id: str, env: Any) -> None:
    """The execution stopped (StopExecution, an execution or task timeout) while it waited: AWS terminates
    the job it managed."""
    arn = getattr(getattr(env, "states", None), "context_object", None)
    execution_arn = ""
    try:
        execution_arn = arn.context_object_data["Execution"]["Id"]  # type: ignore[union-attr]
    except Exception:
        pass
    try:
        batch.terminate_job(jobId=job_id, reason=ABORTED_REASON.format(arn=execution_arn)[:1024])
    except Exception as error:
        log.warning("could not terminate job %s of a stopped execution: %s", job_id, error)


# -- express workflows: StartSyncExecution ------------------------------------------------------------------
def _hook_sync_executions() -> None:
    """moto's server has no StartSyncExecution; its interpreter has a synchronous worker (SyncExecution),
    which this runs on the request's thread: AWS answers StartSyncExecution when the workflow has ended."""
    from moto.stepfunctions.responses import StepFunctionResponse

    if hasattr(StepFunctionResponse, "start_sync_execution"):
        raise AttributeError("moto has its own StepFunctionResponse.start_sync_execution now")
    StepFunctionResponse.start_sync_execution = _start_sync_execution  # type: ignore[attr-defined]


def _start_sync_execution(self: Any) -> Any:
    import copy
    import json
    import uuid

    from moto.core.exceptions import AWSError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidExecutionInput
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    class StateMachineTypeNotSupported(AWSError):
        TYPE = "StateMachineTypeNotSupported"
        STATUS = 400

    backend = self.stepfunction_backend
    machine = backend.describe_state_machine(self._get_param("stateMachineArn"))
    if machine.type != "EXPRESS":
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    text = self._get_param("input", if_none="{}")
    try:
        json.loads(text)
    except ValueError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None
    name = self._get_param("name") or str(uuid.uuid4())
    arn = f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:express:{machine.name}:{name}:{uuid.uuid4()}"
    execution = SyncExecution(
        name=name,
        sm_type=machine.type,
        role_arn=machine.roleArn,
        exec_arn=arn,
        account_id=backend.account_id,
        region_name=backend.region_name,
        # as moto's start_execution copies it: neither its executions nor its backend (getmoto/moto#10077)
        state_machine=copy.deepcopy(
            machine, {id(machine.executions): [], id(getattr(machine, "backend", None)): getattr(machine, "backend", None)}
        ),
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        input_data=text,
        trace_header=self._get_param("traceHeader"),
        activity_store={},
    )
    execution.start()  # SyncExecutionWorker runs the program on this thread
    output = dict(execution.to_start_sync_execution_output())
    output["stateMachineArn"] = machine.arn
    output["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": _billed_ms(output)}
    return ActionResult({key: value for key, value in output.items() if value is not None})


def _billed_ms(output: dict[str, Any]) -> int:
    start, stop = output.get("startDate"), output.get("stopDate")
    if not isinstance(start, datetime.datetime) or not isinstance(stop, datetime.datetime):
        return 100
    elapsed = (stop - start).total_seconds() * 1000
    return int(max(100, -(-elapsed // 100) * 100))  # AWS bills express workflows in 100 ms steps


_HOOKS: list[tuple[str, Callable[[], None]]] = [
    ("service clients", _hook_clients),
    ("parameter and result casing", _hook_casing),
    ("state changes", _hook_environment),
    ("Wait states", _hook_waits),
    ("Retry intervals", _hook_retries),
    ("timeouts", _hook_timeouts),
    ("Batch tasks", _hook_batch),
    ("StartSyncExecution", _hook_sync_executions),
]

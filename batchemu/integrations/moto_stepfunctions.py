"""The adapter that makes moto's ASL interpreter run executions against batchemu, and the only place batchemu
changes moto's Step Functions. It may import moto and botocore (lazily), the standard library and moto_hooks, nothing
batchemu's: what it needs of the emulator comes through the `Driver` it is given.

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
import threading
from collections.abc import Callable
from typing import Any

from batchemu.integrations import moto_sfn_batch, moto_sfn_time
from batchemu.integrations.moto_hooks import moto_version
from batchemu.integrations.moto_sfn_runtime import (
    Driver,
    account_of,
    add_driver,
    current_driver,
    hook_environment,
    operation_model,
    remove_driver,
)

log = logging.getLogger("batchemu.stepfunctions")
_lock = threading.Lock()
_installed: bool | None = None


def register_driver(driver: Driver) -> bool:
    """Executions run against `driver` from now on (held weakly; the newest live one wins); True when moto's
    interpreter is hooked."""
    add_driver(driver)
    with _lock:
        return _install()


def unregister_driver(driver: Driver) -> None:
    remove_driver(driver)


def stop_running_executions(cause: str) -> int:
    """Stops every RUNNING execution of this process's moto (a reset: their waits on the emulator's clock
    would otherwise wait on timers that no longer exist); returns how many."""
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


def executions() -> list[Any]:
    """Every execution of this process's moto interpreter (its Execution objects), newest first."""
    try:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    except Exception:
        return []
    found = [
        execution
        for regions in list(dict.values(stepfunctions_parser_backends))
        for backend in list(dict.values(regions))
        for machine in list(getattr(backend, "state_machines", []))
        for execution in list(getattr(machine, "executions", []))
    ]
    return sorted(found, key=lambda e: getattr(e, "start_date", None) or datetime.datetime.min.replace(tzinfo=datetime.UTC), reverse=True)


def execution_view(execution: Any, with_history: bool = False) -> dict[str, Any]:
    """An execution as the dashboard shows it: plain values only."""
    def iso(moment: Any) -> str | None:
        return moment.isoformat() if isinstance(moment, datetime.datetime) else None

    view: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "name": execution.name,
        "stateMachineArn": getattr(execution.state_machine, "arn", ""),
        "stateMachineName": getattr(execution.state_machine, "name", ""),
        "status": str(getattr(execution, "exec_status", None) or "RUNNING").split(".")[-1],
        "startDate": iso(getattr(execution, "start_date", None)),
        "stopDate": iso(getattr(execution, "stop_date", None)),
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }
    if with_history:
        import json

        view["input"] = json.dumps(getattr(execution, "input_data", None), default=str)
        view["output"] = json.dumps(getattr(execution, "output", None), default=str)
        try:
            events = execution.to_history_output()["events"]
        except Exception:
            events = []
        view["history"] = [
            {"id": e.get("id"), "type": str(e.get("type", "")).split(".")[-1], "timestamp": iso(e.get("timestamp"))}
            for e in events
        ]
    return view


def _install() -> bool:
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    version = moto_version("Step Functions executions")
    if version is None:
        return False
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    for name, hook in _HOOKS:
        try:
            hook()
        except Exception as error:
            log.warning("moto %s: could not hook Step Functions' %s (%s); left as moto has it", version, name, error)
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
def _hook_casing() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    def normalise_parameters(
        self: Any,
        parameters: dict,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
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
            machine,
            {
                id(machine.executions): [],
                id(getattr(machine, "backend", None)): getattr(machine, "backend", None),
            },
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
    output["billingDetails"] = {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": _billed_ms(output),
    }
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
    ("state changes", hook_environment),
    ("Wait states", moto_sfn_time.hook_waits),
    ("Retry intervals", moto_sfn_time.hook_retries),
    ("timeouts", moto_sfn_time.hook_timeouts),
    ("Batch tasks", moto_sfn_batch.hook_batch),
    ("StartSyncExecution", _hook_sync_executions),
]

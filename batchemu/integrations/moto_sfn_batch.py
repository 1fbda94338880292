"""Step Functions' Batch integration on batchemu: every SubmitJob member passed through, `.sync` woken by the job's
terminal transition (no polling) and answering the job as DescribeJobs shows it in PascalCase or as
States.TaskFailed, the job terminated when the execution stops or the task times out while it waits, and each
submitted job noted against its execution. Imports moto (lazily) and moto_sfn_runtime."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from batchemu.integrations.moto_sfn_runtime import account_of, current_driver, operation_model, wait_until

log = logging.getLogger("batchemu.stepfunctions")

ABORTED_REASON = (
    "The Task state in AWS Step Functions execution {arn} which was managing this resource was aborted"
)
TERMINAL_JOB_STATUSES = ("SUCCEEDED", "FAILED")


# -- Batch ---------------------------------------------------------------------------------------------
@cache
def submit_job_members() -> frozenset[str]:
    """SubmitJob's request members as Step Functions names them (PascalCase)."""
    operation = operation_model("batch", "submit_job")
    return frozenset(name[:1].upper() + name[1:] for name in operation.input_shape.members)


def hook_batch() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_batch

    klass = state_task_service_batch.StateTaskServiceBatch

    def supported_parameters(self: Any) -> set[str] | None:
        return set(submit_job_members()) if self.resource.api_action.lower() == "submitjob" else None

    klass._get_supported_parameters = supported_parameters  # type: ignore[method-assign]
    klass._build_sync_resolver = _build_sync_resolver  # type: ignore[method-assign]
    original_task = klass._eval_service_task

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original_task(self, env, *args, **kwargs)
        answer = env.stack[-1] if env.stack else None
        driver = current_driver()
        noted = getattr(driver, "job_submitted", None)
        if isinstance(answer, dict) and isinstance(answer.get("jobId"), str) and noted is not None:
            noted(answer["jobId"], execution_arn(env))

    klass._eval_service_task = eval_service_task  # type: ignore[method-assign]


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


def execution_arn(env: Any) -> str:
    """The ARN of the execution `env` (or a frame of it) belongs to; empty when it cannot be told."""
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except Exception:
        return ""


def _terminate(batch: Any, job_id: str, env: Any) -> None:
    """The execution stopped (StopExecution, an execution or task timeout) while it waited: AWS terminates
    the job it managed."""
    try:
        batch.terminate_job(jobId=job_id, reason=ABORTED_REASON.format(arn=execution_arn(env))[:1024])
    except Exception as error:
        log.warning("could not terminate job %s of a stopped execution: %s", job_id, error)

"""What an EventBridge Scheduler schedule invokes when it fires: the universal target
`arn:aws:scheduler:::aws-sdk:<service>:<operation>` (Input = the request in PascalCase JSON, turned into
the operation's member names by botocore's input shape) and the templated targets (SQS SendMessage, SNS
Publish, Lambda Invoke, Step Functions StartExecution, EventBridge PutEvents), called through the endpoint
as the schedule's account and region. Runs on the outbox thread; a failed invocation goes to the target's
dead-letter queue. Imports botocore and the integrations."""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.model import Shape

from batchemu.integrations import dead_letters, moto_scheduler
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.origins import Origin, Origins
from batchemu.integrations.retries import Later, RetryPolicy, is_retried

log = logging.getLogger("batchemu.schedules")

UNIVERSAL = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)$")
# aws-sdk service names that are not boto3's
SDK_SERVICES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}
DEFAULT_INPUT = "{}"  # UNCONFIRMED: AWS says only "a default notification"


class ScheduleTargets:
    def __init__(
        self,
        clients: AwsClients,
        origins: Origins | None = None,
        later: Later | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.clients = clients
        self.origins = origins
        self.later = later  # retries wait on the emulator's clock; without it none is retried
        self.now = now

    def fire(
        self, account: str, region: str, group: str, name: str, times: list[float], completed: bool
    ) -> bool:
        """Invokes the schedule's target once per time, in order; deletes a completed schedule whose
        ActionAfterCompletion is DELETE. False when the schedule is gone."""
        schedule = moto_scheduler.find_schedule(account, region, group, name)
        if schedule is None:
            return False
        if schedule.state != "DISABLED":
            for moment in times:
                self.invoke(account, region, schedule, moment)
        if completed and (schedule.action_after_completion or "NONE") == "DELETE":
            moto_scheduler.delete_schedule(account, region, group, name)
            log.info("schedule %s/%s completed and was deleted (ActionAfterCompletion DELETE)", group, name)
        return True

    def invoke(
        self, account: str, region: str, schedule: Any, moment: float, retries: int = 0, execution_id: str = ""
    ) -> None:
        target = dict(schedule.target or {})
        execution_id = execution_id or str(uuid.uuid4())
        text = with_context(target.get("Input"), schedule.arn, moment, execution_id, retries + 1)
        try:
            answer = self.call(account, region, target, text)
        except Exception as error:
            code, message = dead_letters.error_text(error)
            log.warning(
                "schedule %s: invoking %s failed: %s %s", schedule.name, target.get("Arn"), code, message
            )
            delay = RetryPolicy.of(target).next_delay(retries, self.now() - moment) if is_retried(error) else None
            if delay is not None and self.later is not None:
                self.later(delay, lambda: self.invoke(account, region, schedule, moment, retries + 1, execution_id))
                return
            attributes = {
                "ERROR_CODE": code,
                "ERROR_MESSAGE": message[:1000],
                "EXECUTION_ID": execution_id,
                "SCHEDULE_ARN": schedule.arn,
                "TARGET_ARN": str(target.get("Arn", "")),
            }
            dead_letters.send(self.clients, target, text, attributes)
            return
        if self.origins is not None and isinstance(answer, dict) and isinstance(answer.get("jobId"), str):
            self.origins.note(answer["jobId"], Origin("schedule", schedule.arn, f"{schedule.group_name}/{schedule.name}"))

    def call(self, account: str, region: str, target: dict[str, Any], text: str) -> Any:
        arn = str(target.get("Arn", ""))
        universal = UNIVERSAL.match(arn)
        if universal is not None:
            return self._sdk_call(account, region, universal.group(1), universal.group(2), text)
        parts = arn.split(":")
        service = parts[2] if len(parts) >= 6 else ""
        if service == "sqs":
            sqs = self.clients.client("sqs", parts[4], parts[3])
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
            return sqs.send_message(
                QueueUrl=url, MessageBody=text, **({"MessageGroupId": group_id} if group_id else {})
            )
        if service == "sns":
            return self.clients.client("sns", parts[4], parts[3]).publish(TopicArn=arn, Message=text)
        if service == "lambda":
            client = self.clients.client("lambda", parts[4], parts[3])
            return client.invoke(FunctionName=arn, InvocationType="Event", Payload=text.encode())
        if service == "states":
            return self.clients.client("stepfunctions", parts[4], parts[3]).start_execution(
                stateMachineArn=arn, input=text
            )
        if service == "events" and parts[5].startswith("event-bus/"):
            return self._put_event(parts, target, text)
        raise ValueError(f"EventBridge Scheduler has no templated target for {arn}")

    def _put_event(self, parts: list[str], target: dict[str, Any], text: str) -> Any:
        parameters = target.get("EventBridgeParameters") or {}
        answer = self.clients.client("events", parts[4], parts[3]).put_events(
            Entries=[
                {
                    "EventBusName": ":".join(parts),
                    "Source": parameters.get("Source", ""),
                    "DetailType": parameters.get("DetailType", ""),
                    "Detail": text,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise ValueError(f"PutEvents refused the event: {answer['Entries'][0].get('ErrorMessage')}")
        return answer

    def _sdk_call(self, account: str, region: str, service: str, operation: str, text: str) -> Any:
        client = self.clients.client(SDK_SERVICES.get(service, service), account, region)
        name = operation[:1].upper() + operation[1:]
        model = client.meta.service_model.operation_model(name)  # OperationNotFoundError when unknown
        request = to_members(json.loads(text), model.input_shape)
        if not isinstance(request, dict):
            raise ValueError(f"the Input of aws-sdk:{service}:{operation} must be a JSON object")
        return getattr(client, xform_name(name))(**request)


def to_members(value: Any, shape: Shape | None) -> Any:
    """A PascalCase request turned into the shape's member names (`JobName` -> `jobName`), recursively;
    map keys are kept, unknown members are kept as given (botocore then refuses them)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        by_lower = {member.lower(): member for member in members}
        converted = {}
        for key, item in value.items():
            member = by_lower.get(str(key).lower(), str(key))
            converted[member] = to_members(item, members.get(member))
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [to_members(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_members(item, shape.value) for key, item in value.items()}  # type: ignore[attr-defined]
    return value


def with_context(text: Any, schedule_arn: str, moment: float, execution_id: str, attempt: int = 1) -> str:
    """The target Input with Scheduler's context attributes filled in (schedule ARN, scheduled time,
    execution id, attempt number)."""
    if text is None:
        return DEFAULT_INPUT
    scheduled = datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, value in (
        ("schedule-arn", schedule_arn),
        ("scheduled-time", scheduled),
        ("execution-id", execution_id),
        ("attempt-number", str(attempt)),
    ):
        text = str(text).replace(f"<aws.scheduler.{name}>", value)
    return str(text)

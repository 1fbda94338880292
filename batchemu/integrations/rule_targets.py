"""A scheduled rule's firing delivered to each of its targets, and the targets moto cannot serve: job queues
(SubmitJob through the queue's emulator), Lambda functions (Invoke, InvocationType Event) and Step
Functions state machines (StartExecution) through the endpoint; SQS, CloudWatch Logs, other buses and the
rest through moto's own delivery. Runs on the outbox thread. A target that fails is logged and its event
sent to its DeadLetterConfig queue; nothing here raises."""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from batchemu.integrations import moto_events
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.eventbridge import dead_letter, target_input
from batchemu.integrations.moto_events import RuleInfo, aws_event, is_job_queue_arn
from batchemu.integrations.retries import Later, RetryPolicy, is_retried

log = logging.getLogger("batchemu.schedules")

SCHEDULED = "Scheduled Event"


def scheduled_event(rule: Any, moment: float) -> dict[str, Any]:
    """The event of one firing, in moto's internal shape (epoch `time`, as moto's delivery expects);
    aws_event() gives AWS's: detail-type `Scheduled Event`, source `aws.events`, the rule's ARN as the
    only resource, an empty detail, `time` = the scheduled time."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": SCHEDULED,
        "source": "aws.events",
        "account": rule.account_id,
        "time": moment,
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
        "ingestion-time": moment,
    }


class RuleTargets:
    def __init__(self, clients: AwsClients, later: Later | None = None, now: Callable[[], float] = time.time) -> None:
        self.clients = clients
        self.later = later  # retries wait on the emulator's clock; without it none is retried
        self.now = now

    def fire(self, account: str, region: str, name: str, times: list[float]) -> bool:
        """Delivers one event per time in `times` to every target of the rule, in order; False when the
        rule is gone (or no longer scheduled), so its timer can be dropped."""
        rule = moto_events.find_rule(account, region, name)
        if rule is None or not rule.scheduled_expression:
            return False
        if rule.state == "DISABLED":
            return True
        for moment in times:
            moto_event = scheduled_event(rule, moment)
            event, ingested = aws_event(moto_event)
            info = RuleInfo(rule.name, rule.arn, account, region, ingested)
            for target in list(rule.targets):
                self.deliver(info, target, event, rule, moto_event)
        return True

    def deliver(
        self,
        rule: RuleInfo,
        target: dict[str, Any],
        event: dict[str, Any],
        moto_rule: Any = None,
        moto_event: dict[str, Any] | None = None,
        retries: int = 0,
    ) -> None:
        """One target, now; a failure is retried by the target's RetryPolicy when it may pass, else it goes to
        the target's dead-letter queue."""
        arn = str(target.get("Arn", ""))
        try:
            if is_job_queue_arn(arn):
                sink = moto_events.job_queue_sink(arn)
                if sink is None:
                    raise LookupError(f"no emulator serves job queue {arn}")
                sink.submit(rule, target, event)
            elif arn.split(":")[2:3] == ["lambda"]:
                self._invoke_function(rule, target, event)
            elif arn.split(":")[2:3] == ["states"]:
                self._start_execution(rule, target, event)
            elif moto_rule is not None and moto_event is not None:
                moto_events.send_with_moto(moto_rule, target, moto_event)
            else:
                raise NotImplementedError(f"batchemu does not deliver to {arn}")
        except Exception as error:
            log.warning("rule %s: delivery to %s failed: %s", rule.name, arn, error)
            age = self.now() - _event_time(event, self.now())
            delay = RetryPolicy.of(target).next_delay(retries, age) if is_retried(error) else None
            if delay is not None and self.later is not None:
                self.later(delay, lambda: self.deliver(rule, target, event, moto_rule, moto_event, retries + 1))
                return
            dead_letter(self.clients, rule, target, event, error)

    def _invoke_function(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None:
        client = self.clients.client("lambda", rule.account, rule.region)
        payload = json.dumps(target_input(rule, target, event))
        client.invoke(FunctionName=target["Arn"], InvocationType="Event", Payload=payload.encode())

    def _start_execution(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None:
        client = self.clients.client("stepfunctions", rule.account, rule.region)
        client.start_execution(
            stateMachineArn=target["Arn"], input=json.dumps(target_input(rule, target, event))
        )


def _event_time(event: dict[str, Any], otherwise: float) -> float:
    try:
        return datetime.datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return otherwise

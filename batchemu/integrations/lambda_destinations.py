"""Sends Lambda's asynchronous invocation records to their destinations through the endpoint, as Lambda does:
an SQS queue (the record as the message), an SNS topic, a function (an Event invocation) or an EventBridge bus
(source `lambda`, detail type `Lambda Function Invocation Result - Success|Failure`). A destination that
cannot be written is logged; it never fails anything else. Imports the integrations' clients and the
Scheduler's templated target calls."""

from __future__ import annotations

import json
import logging
from typing import Any

from batchemu.integrations.aws import AwsClients
from batchemu.integrations.scheduler_targets import ScheduleTargets

log = logging.getLogger("batchemu.lambda")
DETAIL_TYPE = "Lambda Function Invocation Result - {outcome}"


class LambdaDestinations:
    def __init__(self, clients: AwsClients) -> None:
        self._targets = ScheduleTargets(clients)

    def deliver(self, destination: str, record: dict[str, Any], succeeded: bool) -> None:
        parts = destination.split(":")
        if len(parts) < 6:
            log.warning("Lambda destination %s is not an ARN; the invocation record is dropped", destination)
            return
        target: dict[str, Any] = {"Arn": destination}
        if parts[2] == "events":
            outcome = "Success" if succeeded else "Failure"
            target["EventBridgeParameters"] = {
                "Source": "lambda",
                "DetailType": DETAIL_TYPE.format(outcome=outcome),
            }
        try:
            self._targets.call(parts[4], parts[3], target, json.dumps(record))
        except Exception as error:
            log.warning(
                "could not send the invocation record of %s to %s: %s",
                record["requestContext"]["functionArn"],
                destination,
                error,
            )

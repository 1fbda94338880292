"""Dead-letter queues of EventBridge rule targets and Scheduler targets: an undeliverable event goes to the
target's `DeadLetterConfig` SQS queue with AWS's message attributes, and a failure's error code. Imports
botocore's ClientError and the integrations' clients."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from batchemu.integrations.aws import AwsClients

log = logging.getLogger("batchemu.events")


def send(clients: AwsClients, target: dict[str, Any], body: Any, attributes: dict[str, str]) -> bool:
    """Sends `body` (text, or JSON for anything else) to the target's dead-letter queue; False when it has
    none or the queue cannot be written (logged: a dead letter never fails the caller)."""
    queue_arn = str(((target.get("DeadLetterConfig") or {}).get("Arn")) or "")
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return False
    region, account, name = parts[3], parts[4], parts[5]
    try:
        sqs = clients.client("sqs", account, region)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body if isinstance(body, str) else json.dumps(body),
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
                if value
            },
        )
    except Exception as error:
        log.warning("could not write to dead-letter queue %s: %s", queue_arn, error)
        return False
    return True


def rule_error_code(error: BaseException) -> str:
    """EventBridge's ERROR_CODE for a failed delivery (its documented codes; the mapping is batchemu's)."""
    if isinstance(error, EndpointConnectionError):
        return "CONNECTION_FAILURE"
    if isinstance(error, NotImplementedError):
        return "SDK_CLIENT_ERROR"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "NotFound" in code or "NonExistent" in code or "does not exist" in message:
            return "NO_RESOURCE"
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return "NO_PERMISSIONS"
        if "Throttl" in code:
            return "THROTTLING"
        return "INVALID_PARAMETER"
    return "INTERNAL_ERROR"


def error_text(error: BaseException) -> tuple[str, str]:
    """(code, message) of a failed call, as the service answered it."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return str(details.get("Code", "ClientError")), str(details.get("Message", error))
    return type(error).__name__, str(error)

"""What Lambda does after a run of an asynchronous invocation (AWS's documented behaviour): a function error is
retried up to MaximumRetryAttempts times (default 2), one minute and then two minutes later, unless the event
has become older than MaximumEventAgeInSeconds (default 6 hours); the result then goes to the OnSuccess or
OnFailure destination as Lambda's invocation record. Standard library only."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

RETRY_DELAYS = (
    60.0,
    120.0,
)  # "one minute between the first two attempts, two minutes between the second and third"
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_SECONDS = 21600.0
SUCCESS, RETRIES_EXHAUSTED, EVENT_AGE_EXCEEDED = "Success", "RetriesExhausted", "EventAgeExceeded"


@dataclass(frozen=True)
class AsyncConfig:
    """A function's event invoke configuration (PutFunctionEventInvokeConfig), with AWS's defaults."""

    retries: int = DEFAULT_RETRIES
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    on_success: str | None = None
    on_failure: str | None = None

    @classmethod
    def of(cls, config: dict[str, Any] | None) -> AsyncConfig:
        config = config or {}
        destinations = config.get("DestinationConfig") or {}
        return cls(
            retries=int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES)),
            max_age_seconds=float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_SECONDS)),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        )


def after_failure(config: AsyncConfig, attempts: int, age_seconds: float) -> float | str:
    """After `attempts` runs that failed, the event being `age_seconds` old: the seconds until the next
    attempt, or why there is none (RetriesExhausted, EventAgeExceeded)."""
    if attempts > config.retries:
        return RETRIES_EXHAUSTED
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    if age_seconds + delay > config.max_age_seconds:
        return EVENT_AGE_EXCEEDED
    return delay


def invocation_record(
    function_arn: str,
    version: str,
    request_id: str,
    condition: str,
    attempts: int,
    event: str,
    payload: bytes,
    failed: bool,
    now: float,
) -> dict[str, Any]:
    """The record a destination receives ("Invocation record" in Lambda's developer guide)."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": version}
    if failed:
        response["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(timespec="milliseconds")[
            :-6
        ]
        + "Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn
            if function_arn.endswith(f":{version}")
            else f"{function_arn}:{version}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(event.encode()),
        "responseContext": response,
        "responsePayload": _json_or_text(payload),
    }


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")

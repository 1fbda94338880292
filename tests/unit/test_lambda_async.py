"""Lambda's asynchronous retry rules and invocation record (integrations/lambda_async.py)."""

from __future__ import annotations

from batchemu.integrations.lambda_async import AsyncConfig, after_failure, invocation_record


def test_defaults_are_two_retries_within_six_hours_and_no_destination() -> None:
    assert AsyncConfig.of(None) == AsyncConfig(2, 21600.0, None, None)
    config = AsyncConfig.of(
        {
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 90,
            "DestinationConfig": {"OnSuccess": {"Destination": "arn:ok"}, "OnFailure": {}},
        }
    )
    assert config == AsyncConfig(1, 90.0, "arn:ok", None)


def test_retries_wait_one_then_two_minutes_and_stop_when_exhausted_or_too_old() -> None:
    config = AsyncConfig()
    assert [after_failure(config, runs, 0) for runs in (1, 2, 3)] == [60.0, 120.0, "RetriesExhausted"]
    assert after_failure(AsyncConfig(retries=0), 1, 0) == "RetriesExhausted"
    assert after_failure(AsyncConfig(max_age_seconds=100), 1, 30) == 60.0
    assert after_failure(AsyncConfig(max_age_seconds=100), 1, 41) == "EventAgeExceeded"


def test_the_record_names_the_version_the_condition_and_the_payloads() -> None:
    record = invocation_record(
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "$LATEST",
        "req",
        "Success",
        1,
        '{"a": 1}',
        b"[2]",
        False,
        1_700_000_000.25,
    )
    assert record == {
        "version": "1.0",
        "timestamp": "2023-11-14T22:13:20.250Z",
        "requestContext": {
            "requestId": "req",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"a": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": [2],
    }
    failed = invocation_record("arn:f:1", "1", "r", "RetriesExhausted", 3, "not json", b"", True, 0)
    assert failed["requestContext"]["functionArn"] == "arn:f:1"  # a version's ARN already names it
    assert (failed["requestPayload"], failed["responsePayload"]) == ("not json", None)
    assert failed["responseContext"]["functionError"] == "Unhandled"

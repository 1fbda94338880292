"""rate/cron/at parsing and next-occurrence computation (batchemu/domain/schedule_expressions.py)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from batchemu.domain.schedule_expressions import (
    At,
    InvalidExpression,
    Rate,
    next_occurrence,
    occurrences,
    parse_rule_expression,
    parse_schedule_expression,
)


def at(text: str, zone: str = "UTC") -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def iso(moment: float | None) -> str:
    assert moment is not None
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M")


def next_after(expression: str, after: str, zone: str = "UTC") -> str:
    return iso(next_occurrence(parse_schedule_expression(expression), at(after, zone), 0, zone))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 3 * * ? *)", "2024-05-01T12:00", "2024-05-02T03:00"),
        ("cron(0 3 * * ? *)", "2024-05-01T02:59:59", "2024-05-01T03:00"),
        ("cron(0 3 * * ? *)", "2024-05-01T03:00", "2024-05-02T03:00"),  # strictly after
        ("cron(0/15 * * * ? *)", "2024-05-01T10:07", "2024-05-01T10:15"),
        ("cron(0 18 ? * MON-FRI *)", "2024-05-03T19:00", "2024-05-06T18:00"),  # Friday evening -> Monday
        ("cron(0 12 L * ? *)", "2024-02-01T00:00", "2024-02-29T12:00"),  # leap year
        ("cron(0 12 ? * 3#2 *)", "2024-02-01T00:00", "2024-02-13T12:00"),  # second Tuesday
        ("cron(0 12 ? * 6L *)", "2024-02-01T00:00", "2024-02-23T12:00"),  # last Friday
        ("cron(0 12 ? * L *)", "2024-02-01T00:00", "2024-02-03T12:00"),  # last day of the week: Saturday
        ("cron(0 12 15W * ? *)", "2024-06-01T00:00", "2024-06-14T12:00"),  # 15th is a Saturday
        ("cron(0 12 1W * ? *)", "2024-06-01T00:00", "2024-06-03T12:00"),  # 1st is a Saturday
        ("cron(0 12 LW * ? *)", "2024-03-01T00:00", "2024-03-29T12:00"),  # 31st is a Sunday
        ("cron(0 0 1 JAN ? 2030)", "2024-01-01T00:00", "2030-01-01T00:00"),
        ("cron(1-31/30 1-1 ? * 1,7 *)", "2024-05-01T00:00", "2024-05-04T01:01"),  # AWS accepts it
    ],
)
def test_cron_next_occurrence_in_utc(expression: str, after: str, expected: str) -> None:
    assert next_after(expression, after) == expected


def test_cron_in_a_time_zone_fires_at_the_wall_time_there() -> None:
    # 09:00 in New York is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT)
    assert next_after("cron(0 9 * * ? *)", "2024-01-15T12:00", "America/New_York") == "2024-01-16T14:00"
    assert next_after("cron(0 9 * * ? *)", "2024-07-15T12:00", "America/New_York") == "2024-07-16T13:00"


def test_a_wall_time_skipped_by_daylight_saving_does_not_fire_that_day() -> None:
    # 02:30 does not exist in New York on 2024-03-10
    assert next_after("cron(30 2 * * ? *)", "2024-03-09T12:00", "America/New_York") == "2024-03-11T06:30"


def test_a_wall_time_repeated_by_daylight_saving_fires_once() -> None:
    expression = parse_schedule_expression("cron(30 1 * * ? *)")
    first = next_occurrence(expression, at("2024-11-02T12:00", "America/New_York"), 0, "America/New_York")
    assert iso(first) == "2024-11-03T05:30"  # 01:30 EDT
    assert iso(next_occurrence(expression, first or 0, 0, "America/New_York")) == "2024-11-04T06:30"


def test_rate_fires_at_anchor_plus_whole_periods() -> None:
    five = parse_rule_expression("rate(5 minutes)")
    assert five == Rate(300)
    assert next_occurrence(five, after=1000, anchor=1000) == 1300
    assert next_occurrence(five, after=1299, anchor=1000) == 1300
    assert next_occurrence(five, after=1300, anchor=1000) == 1600
    assert next_occurrence(five, after=500, anchor=1000) == 1300  # never before anchor + one period
    assert parse_rule_expression("rate(1 hour)") == Rate(3600)
    assert parse_rule_expression("rate(2 days)") == Rate(172800)


def test_missed_occurrences_are_listed_in_order_up_to_a_limit() -> None:
    minute = parse_rule_expression("rate(1 minute)")
    assert occurrences(minute, after=0, until=3600, anchor=0) == [60.0 * k for k in range(1, 61)]
    assert occurrences(minute, after=0, until=10**6, anchor=0, limit=5) == [60, 120, 180, 240, 300]


def test_at_fires_once_at_its_wall_time() -> None:
    expression = parse_schedule_expression("at(2030-06-01T08:00:00)")
    assert expression == At(datetime.datetime(2030, 6, 1, 8, 0))
    moment = next_occurrence(expression, at("2030-01-01T00:00"), 0, "Europe/Paris")
    assert iso(moment) == "2030-06-01T06:00"  # CEST is UTC+2
    assert next_occurrence(expression, moment or 0, 0, "Europe/Paris") is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",  # AWS refuses the plural for 1 (buildkite-agent-scaler #100, measured on AWS)
        "rate(3 minute)",  # and the singular for more
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(5 seconds)",
        "rate(five minutes)",
        "cron(0 3 * * * *)",  # day-of-month and day-of-week both given
        "cron(7 20 * * 1-7 *)",  # the same (localstack #12156, measured on AWS)
        "cron(0 3 ? * ? *)",  # neither
        "cron(*/1 * * * *)",  # five fields (cds-snc/notification-terraform #344)
        "cron(15 12 ? * -1 *)",  # winglang #7115
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 1 13 ? *)",
        "cron(0 0 1 * ? 2200)",
        "cron(0 0 ? * 2#6 *)",
        "cron(0 0 L-2 * ? *)",
        "at(2030-01-01T00:00:00)",  # rules have no one-time expressions
        "every(5 minutes)",
        "",
    ],
)
def test_rule_expressions_aws_refuses(expression: str) -> None:
    with pytest.raises(InvalidExpression):
        parse_rule_expression(expression)


@pytest.mark.parametrize("expression", ["at(2030-13-01T00:00:00)", "at(2030-01-01 00:00:00)", "at(tomorrow)"])
def test_schedule_expressions_aws_refuses(expression: str) -> None:
    with pytest.raises(InvalidExpression):
        parse_schedule_expression(expression)


def test_scheduler_rate_takes_either_spelling() -> None:
    assert parse_schedule_expression("rate(1 minutes)") == Rate(60)
    assert parse_schedule_expression("rate(3 hour)") == Rate(10800)

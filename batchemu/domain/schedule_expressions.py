"""EventBridge schedule expressions - `rate(...)`, `cron(...)` (6 fields, with `?`, `L`, `W`, `#`) and
Scheduler's `at(...)` - parsed, and their next occurrence computed on wall time in a time zone. Pure: the
standard library only (zoneinfo for time zones).

AWS's rules, as its docs state them (EventBridge user guide "Schedule expressions for rules", Scheduler user
guide "Schedule types"): cron fields are minutes (0-59), hours (0-23), day-of-month (1-31, `? L W`), month
(1-12 or JAN-DEC), day-of-week (1-7 or SUN-SAT, 1 = Sunday; `? L #`), year (1970-2199); one of
day-of-month and day-of-week must be `?`; `,` lists, `-` ranges, `*` every value, `/` increments. A rule's
`rate` takes a positive integer and `minute` for 1, `minutes` otherwise (AWS refuses `rate(1 minutes)` and
`rate(3 minute)`); Scheduler's `rate` takes either spelling (nothing says it refuses one).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = datetime.UTC
MIN_YEAR, MAX_YEAR = 1970, 2199
MONTHS = {name: index for index, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
WEEKDAYS = {name: index for index, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class InvalidExpression(ValueError):
    """The text is no schedule expression AWS accepts."""


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class At:
    moment: datetime.datetime  # naive: wall time in the schedule's time zone


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str  # the field's text ("?" when day-of-week decides)
    day_of_week: str

    def day_matches(self, day: datetime.date) -> bool:
        if self.day_of_month != "?":
            return _day_of_month_matches(self.day_of_month, day)
        return _day_of_week_matches(self.day_of_week, day)


Expression = Rate | At | Cron


def parse_rule_expression(text: str) -> Rate | Cron:
    """A PutRule ScheduleExpression: `rate(...)` with AWS's singular/plural rule, or `cron(...)`."""
    parsed = parse(text, allow_at=False, strict_units=True)
    assert not isinstance(parsed, At)
    return parsed


def parse_schedule_expression(text: str) -> Expression:
    """A Scheduler ScheduleExpression: `at(...)`, `rate(...)` or `cron(...)`."""
    return parse(text, allow_at=True, strict_units=False)


def parse(text: str, allow_at: bool, strict_units: bool) -> Expression:
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", text or "")
    if match is None or (match.group(1) == "at" and not allow_at):
        raise InvalidExpression(text)
    kind, body = match.group(1), match.group(2).strip()
    if kind == "rate":
        return _rate(text, body, strict_units)
    if kind == "at":
        try:
            return At(datetime.datetime.strptime(body, "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise InvalidExpression(text) from None
    return _cron(text, body)


def _rate(text: str, body: str, strict_units: bool) -> Rate:
    match = re.fullmatch(r"(\d+) (minute|minutes|hour|hours|day|days)", body)
    if match is None or int(match.group(1)) < 1:
        raise InvalidExpression(text)
    value, unit = int(match.group(1)), match.group(2)
    if strict_units and unit.endswith("s") != (value != 1):
        raise InvalidExpression(text)
    return Rate(value * UNIT_SECONDS[unit.rstrip("s")])


def _cron(text: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidExpression(text)
    minutes, hours, day_of_month, months, day_of_week, years = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidExpression(text)  # exactly one of the two day fields must be "?"
    try:
        cron = Cron(
            minutes=_values(minutes, 0, 59),
            hours=_values(hours, 0, 23),
            months=_values(months, 1, 12, MONTHS),
            years=_values(years, MIN_YEAR, MAX_YEAR),
            day_of_month=day_of_month.upper(),
            day_of_week=day_of_week.upper(),
        )
        if day_of_month != "?":
            _check_day_of_month(cron.day_of_month)
        if day_of_week != "?":
            _check_day_of_week(cron.day_of_week)
    except ValueError:
        raise InvalidExpression(text) from None
    return cron


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a field of `,` `-` `*` `/` stands for; ValueError when it is malformed."""
    found: set[int] = set()
    for part in field.upper().split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and not step_text.isdigit() or step < 1:
            raise ValueError(field)
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            start, end = _value(first, low, high, names), _value(last, low, high, names)
        else:
            start = _value(spec, low, high, names)
            end = high if step_text else start  # "5/15": from 5 to the end, every 15
        span = range(start, end + 1) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        found.update(list(span)[::step])
    return frozenset(found)


def _value(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    value = names[text] if names and text in names else int(text) if text.isdigit() else None
    if value is None or not low <= value <= high:
        raise ValueError(text)
    return value


def _check_day_of_month(field: str) -> None:
    for part in field.split(","):
        if part in ("L", "LW") or re.fullmatch(r"([1-9]|[12]\d|3[01])W", part):
            continue
        _values(part, 1, 31)


def _check_day_of_week(field: str) -> None:
    for part in field.split(","):
        if part == "L":
            continue
        special = re.fullmatch(r"(\w+)(#[1-5]|L)", part)
        _values(special.group(1) if special else part, 1, 7, WEEKDAYS)


def _day_of_month_matches(field: str, day: datetime.date) -> bool:
    last = _last_day(day)
    for part in field.split(","):
        if part == "L":
            hit = day.day == last
        elif part == "LW":
            hit = day == _nearest_weekday(day.replace(day=last))
        elif part.endswith("W"):
            wanted = int(part[:-1])
            hit = wanted <= last and day == _nearest_weekday(day.replace(day=wanted))
        else:
            hit = day.day in _values(part, 1, 31)
        if hit:
            return True
    return False


def _day_of_week_matches(field: str, day: datetime.date) -> bool:
    weekday = day.isoweekday() % 7 + 1  # AWS: 1 = Sunday ... 7 = Saturday
    for part in field.split(","):
        if part == "L":
            hit = weekday == 7  # "the last day of the week"
        elif "#" in part:
            name, _, nth = part.partition("#")
            hit = weekday in _values(name, 1, 7, WEEKDAYS) and (day.day - 1) // 7 + 1 == int(nth)
        elif part.endswith("L"):
            hit = weekday in _values(part[:-1], 1, 7, WEEKDAYS) and day.day + 7 > _last_day(day)
        else:
            hit = weekday in _values(part, 1, 7, WEEKDAYS)
        if hit:
            return True
    return False


def _last_day(day: datetime.date) -> int:
    following = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return (following - datetime.timedelta(days=1)).day


def _nearest_weekday(day: datetime.date) -> datetime.date:
    """The weekday nearest `day` within its month (Quartz's `W`)."""
    if day.weekday() < 5:
        return day
    if day.weekday() == 5:  # Saturday: the Friday before, unless that is last month
        return day - datetime.timedelta(days=1) if day.day > 1 else day + datetime.timedelta(days=2)
    following = day + datetime.timedelta(days=1)  # Sunday: the Monday after, unless that is next month
    return following if following.month == day.month else day - datetime.timedelta(days=2)


# -- occurrences --------------------------------------------------------------------------------------
def cron_next(cron: Cron, after: datetime.datetime) -> datetime.datetime | None:
    """The first wall time (naive, whole minute) strictly after `after` that `cron` names; None if none
    is left before the year 2200."""
    start = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    day = start.date()
    while day.year <= MAX_YEAR:
        if day.year not in cron.years:
            day = datetime.date(day.year + 1, 1, 1)
            continue
        if day.month not in cron.months:
            day = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            continue
        if cron.day_matches(day):
            earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
            for hour in sorted(h for h in cron.hours if h >= earliest[0]):
                low = earliest[1] if hour == earliest[0] else 0
                minute = min((m for m in cron.minutes if m >= low), default=None)
                if minute is not None:
                    return datetime.datetime.combine(day, datetime.time(hour, minute))
        day += datetime.timedelta(days=1)
    return None


def next_occurrence(expression: Expression, after: float, anchor: float, zone: str = "UTC") -> float | None:
    """The first time (epoch seconds) strictly after `after` at which `expression` fires; None when it
    never will again. A rate fires at anchor + k x period (k >= 1); cron and at are read as wall time in
    `zone`. A wall time that a daylight-saving jump skips does not fire; one it repeats fires once (the
    first)."""
    if isinstance(expression, Rate):
        periods = max(1, int((after - anchor) // expression.seconds) + 1)
        return anchor + periods * expression.seconds
    tz = ZoneInfo(zone)
    if isinstance(expression, At):
        moment = _to_epoch(expression.moment, tz)
        return moment if moment is not None and moment > after else None
    wall = datetime.datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    for _ in range(10_000):  # each turn moves past one skipped or repeated wall time
        candidate = cron_next(expression, wall)
        if candidate is None:
            return None
        moment = _to_epoch(candidate, tz)
        if moment is not None and moment > after:
            return moment
        wall = candidate
    return None


def _to_epoch(wall: datetime.datetime, tz: ZoneInfo) -> float | None:
    """Epoch seconds of a wall time in `tz`; None when that wall time does not exist there."""
    aware = wall.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return aware.timestamp()


def occurrences(
    expression: Expression, after: float, until: float, anchor: float, zone: str = "UTC", limit: int = 1000
) -> list[float]:
    """The firing times in (after, until], earliest first: the first `limit` of them."""
    found: list[float] = []
    moment = next_occurrence(expression, after, anchor, zone)
    while moment is not None and moment <= until and len(found) < limit:
        found.append(moment)
        moment = next_occurrence(expression, moment, anchor, zone)
    return found


def is_valid_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        return False
    return True

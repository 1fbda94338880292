"""EventBridge scheduled rules and EventBridge Scheduler schedules fire on the emulator's clock: one timer
per rule or schedule on `emulator.timers`, armed for its next occurrence; when it is due, the occurrences
since the last firing (each missed one, in order, at most MAX_CATCH_UP) are delivered from the outbox and
the timer is re-armed. moto holds the definitions; its hooks (moto_events, moto_scheduler) report changes
through moto_watch, whose active watcher is this object for one emulator of the process.

Choices where AWS is silent (docs/compatibility.md): `rate(N unit)` fires first at PutRule/CreateSchedule
+ one period (Scheduler: at StartDate when one is given); a rule keeps that anchor across Disable/Enable;
FLEXIBLE time windows fire at the window's start; an `at()` already past when the schedule is created or
changed never fires."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchemu.clock import Clock
from batchemu.domain.schedule_expressions import (
    At,
    Expression,
    InvalidExpression,
    Rate,
    is_valid_zone,
    next_occurrence,
    occurrences,
    parse_rule_expression,
    parse_schedule_expression,
)
from batchemu.integrations import moto_events, moto_scheduler, moto_watch
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.moto_watch import Key
from batchemu.integrations.origins import Origins
from batchemu.integrations.outbox import Outbox
from batchemu.integrations.rule_targets import RuleTargets
from batchemu.integrations.scheduler_targets import ScheduleTargets
from batchemu.timers import Timer, Timers

log = logging.getLogger("batchemu.schedules")

MAX_CATCH_UP = 1000  # missed occurrences fired at one timer, in order; the rest are skipped (logged)


@dataclass
class Armed:
    key: Key
    expression: Expression
    zone: str
    anchor: float
    after: float  # occurrences strictly after this are still to fire
    end: float | None = None  # Scheduler EndDate: occurrences before it only
    timer: Timer | None = None


class ScheduleTimers:
    """The moto_watch watcher of one emulator."""

    @classmethod
    def connect(
        cls, clock: Clock, timers: Timers, outbox: Outbox, clients: AwsClients, origins: Origins | None = None
    ) -> ScheduleTimers | None:
        """Hooks moto (once per process) and registers a watcher; None when moto cannot be hooked."""
        rules_hooked = moto_events.install_rule_hooks()
        schedules_hooked = moto_scheduler.install_schedule_hooks()
        if not (rules_hooked or schedules_hooked):
            return None
        def later(seconds: float, task: Callable[[], None]) -> None:  # a retry, on the clock, from the outbox
            timers.call_later(seconds, lambda: outbox.put(task))

        rules = RuleTargets(clients, later, clock.now)
        watcher = cls(clock, timers, outbox, rules, ScheduleTargets(clients, origins, later, clock.now))
        moto_watch.register_watcher(watcher)
        return watcher

    def close(self) -> None:
        moto_watch.unregister_watcher(self)
        self.deactivate()

    def reset(self) -> None:
        """The emulator was reset (its timers cleared, its fake clock restarted): re-arm what moto holds,
        when this watcher is the active one."""
        self.deactivate()
        if moto_watch.active_watcher() is self:
            self.activate()

    def __init__(
        self, clock: Clock, timers: Timers, outbox: Outbox, rules: RuleTargets, schedules: ScheduleTargets
    ):
        self.clock = clock
        self.timers = timers
        self.outbox = outbox
        self.rules = rules
        self.schedules = schedules
        self._armed: dict[Key, Armed] = {}
        self._anchors: dict[Key, tuple[str, float]] = {}  # a rule's rate anchor, kept while disabled
        self._lock = threading.Lock()

    # -- moto_watch ---------------------------------------------------------------------------------------
    def changed(self, key: Key) -> None:
        if key[0] == "group":
            for armed in [k for k in self._armed if k[0] == "schedule" and k[1:4] == key[1:4]]:
                self.forget(armed)
        elif key[0] == "rule":
            self._arm_rule(key)
        else:
            self._arm_schedule(key)

    def activate(self) -> None:
        """Arms every scheduled rule and schedule moto holds (this emulator has just become the active one)."""
        for rule in moto_events.scheduled_rules():
            self._arm_rule(("rule", rule.account_id, rule.region_name, rule.name))
        for account, region, schedule in moto_scheduler.all_schedules():
            self._arm_schedule(("schedule", account, region, schedule.group_name, schedule.name))

    def deactivate(self) -> None:
        with self._lock:
            for armed in self._armed.values():
                if armed.timer is not None:
                    armed.timer.cancel()
            self._armed.clear()

    def deliver_event_target(self, rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
        self.outbox.put(lambda: self.rules.deliver(rule, target, event))

    def forget(self, key: Key) -> None:
        with self._lock:
            armed = self._armed.pop(key, None)
            self._anchors.pop(key, None)
        if armed is not None and armed.timer is not None:
            armed.timer.cancel()

    def armed(self) -> dict[Key, float | None]:
        """What is armed, and when it fires next (for tests and the log)."""
        with self._lock:
            return {key: armed.timer.when if armed.timer else None for key, armed in self._armed.items()}

    # -- arming -------------------------------------------------------------------------------------------
    def _arm_rule(self, key: Key) -> None:
        rule = moto_events.find_rule(*key[1:])
        if rule is None or not rule.scheduled_expression:
            self.forget(key)
            return
        now = self.clock.now()
        text = str(rule.scheduled_expression)
        with self._lock:
            kept = self._anchors.get(key)
            anchor = kept[1] if kept is not None and kept[0] == text else now
            self._anchors[key] = (text, anchor)
        try:
            expression = parse_rule_expression(text)
        except InvalidExpression:
            self._disarm(key)  # stored before the hook was in place; AWS would have refused it
            return
        if rule.state == "DISABLED":
            self._disarm(key)
            return
        self._arm(Armed(key, expression, "UTC", anchor, now))

    def _arm_schedule(self, key: Key) -> None:
        schedule = moto_scheduler.find_schedule(*key[1:])
        if schedule is None:
            self.forget(key)
            return
        zone = str(schedule.schedule_expression_timezone or "UTC")
        try:
            expression = parse_schedule_expression(str(schedule.schedule_expression))
        except InvalidExpression:
            expression = None
        if expression is None or not is_valid_zone(zone) or schedule.state == "DISABLED":
            if expression is None or not is_valid_zone(zone):
                log.warning(
                    "schedule %s cannot fire: %s in %s", schedule.arn, schedule.schedule_expression, zone
                )
            self._disarm(key)
            return
        now = self.clock.now()
        start, end = _seconds(schedule.start_date), _seconds(schedule.end_date)
        if isinstance(expression, At):
            start = end = None  # Scheduler ignores them for one-time schedules
        anchor, after = now, now
        if start is not None:
            anchor = start - expression.seconds if isinstance(expression, Rate) else now
            after = max(now, start - 0.001)  # "on or after" StartDate
        self._arm(Armed(key, expression, zone, anchor, after, end))

    def _disarm(self, key: Key) -> None:
        with self._lock:
            armed = self._armed.pop(key, None)
        if armed is not None and armed.timer is not None:
            armed.timer.cancel()

    def _arm(self, armed: Armed) -> None:
        self._disarm(armed.key)
        when = self._next(armed, armed.after)
        if when is None:
            return
        with self._lock:
            self._armed[armed.key] = armed
            armed.timer = self.timers.call_at(when, self._due_callback(armed))

    def _next(self, armed: Armed, after: float) -> float | None:
        when = next_occurrence(armed.expression, after, armed.anchor, armed.zone)
        return when if when is not None and (armed.end is None or when < armed.end) else None

    def _due_callback(self, armed: Armed) -> Callable[[], None]:
        return lambda: self._due(armed)

    def _due(self, armed: Armed) -> None:
        """On the scheduler thread: quick - lists the due occurrences, enqueues their delivery, re-arms."""
        with self._lock:
            if self._armed.get(armed.key) is not armed:
                return  # replaced or dropped since
        now = self.clock.now()
        times = occurrences(armed.expression, armed.after, now, armed.anchor, armed.zone, limit=MAX_CATCH_UP)
        times = [moment for moment in times if armed.end is None or moment < armed.end]
        if len(times) == MAX_CATCH_UP and (self._next(armed, times[-1]) or now + 1) <= now:
            log.warning(
                "%s: more than %d occurrences were missed; the rest are skipped",
                "/".join(armed.key),
                MAX_CATCH_UP,
            )
        armed.after = now
        when = self._next(armed, now)
        with self._lock:
            if when is not None:
                armed.timer = self.timers.call_at(when, self._due_callback(armed))
            elif self._armed.get(armed.key) is armed:
                del self._armed[armed.key]
        self.outbox.put(lambda: self._deliver(armed.key, times, completed=when is None))

    def _deliver(self, key: Key, times: list[float], completed: bool) -> None:
        """On the outbox thread."""
        if key[0] == "rule":
            exists = self.rules.fire(key[1], key[2], key[3], times)
        else:
            exists = self.schedules.fire(key[1], key[2], key[3], key[4], times, completed)
            if completed:
                self._anchors.pop(key, None)
        if not exists:
            self.forget(key)


def _seconds(value: Any) -> float | None:
    """moto keeps StartDate/EndDate as the request gave them: epoch seconds (boto3), or ISO text."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()

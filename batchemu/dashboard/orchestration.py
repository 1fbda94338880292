"""The dashboard's view of what drives Batch on this endpoint: Step Functions executions, EventBridge scheduled
rules and Scheduler schedules, each with the jobs it started (integrations/origins). Imports integrations."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from batchemu.integrations import moto_events, moto_scheduler, moto_stepfunctions

if TYPE_CHECKING:
    from batchemu.emulator import Emulator

MAX_EXECUTIONS = 50


def summary(emulator: Emulator) -> dict[str, Any]:
    counts = emulator.origins.counts()
    executions = []
    for execution in moto_stepfunctions.executions()[:MAX_EXECUTIONS]:
        view = moto_stepfunctions.execution_view(execution)
        view["jobs"] = counts.get(view["executionArn"], 0)
        executions.append(view)
    return {"executions": executions, "schedules": schedules(emulator, counts)}


def schedules(emulator: Emulator, counts: dict[str, int]) -> list[dict[str, Any]]:
    armed = emulator.schedules.armed() if emulator.schedules is not None else {}
    found = []
    for rule in moto_events.scheduled_rules():
        due = armed.get(("rule", rule.account_id, rule.region_name, rule.name))
        found.append(_row("EventBridge rule", rule.name, rule.arn, rule.scheduled_expression, rule.state, due, counts))
    for account, region, schedule in moto_scheduler.all_schedules():
        due = armed.get(("schedule", account, region, schedule.group_name, schedule.name))
        name = f"{schedule.group_name}/{schedule.name}"
        found.append(
            _row("Scheduler schedule", name, schedule.arn, schedule.schedule_expression, schedule.state, due, counts)
        )
    return sorted(found, key=lambda row: (row["kind"], row["name"]))


def _row(
    kind: str, name: str, arn: str, expression: str, state: str, due: float | None, counts: dict[str, int]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "arn": arn,
        "expression": expression,
        "state": state or "ENABLED",
        "next": int(due * 1000) if due is not None else None,
        "jobs": counts.get(arn, 0),
    }


def execution(emulator: Emulator, arn: str) -> dict[str, Any] | None:
    for found in moto_stepfunctions.executions():
        if found.exec_arn == arn:
            view = moto_stepfunctions.execution_view(found, with_history=True)
            view["jobIds"] = emulator.origins.jobs_of(arn)
            return view
    return None


def origin(emulator: Emulator, job_id: str) -> dict[str, str] | None:
    noted = emulator.origins.of(job_id)
    return {"kind": noted.kind, "arn": noted.arn, "name": noted.name} if noted is not None else None


def iso_to_ms(text: str | None) -> int | None:
    if not text:
        return None
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)

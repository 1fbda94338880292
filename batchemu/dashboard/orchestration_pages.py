"""The dashboard's HTML for what drives Batch: the overview's executions and schedules tables, a Step
Functions execution's page (its jobs, history, input and output) and a job's "Started by" link. Escapes as
pages.py does. Imports pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from batchemu.dashboard.pages import UI, badge, cells, esc, job_href, layout, table, when


def execution_href(arn: str) -> str:
    return f"{UI}/executions/{quote(arn, safe='')}"


def iso(text: str | None) -> str:
    return (text or "").replace("T", " ")[:19] + ("Z" if text else "")


def tables(found: dict[str, Any]) -> str:
    """The overview's two sections (filled live by app.js from the summary's `executions`/`schedules`)."""
    return (
        "<h2>Step Functions executions</h2>"
        + table(
            "executions",
            ["Execution", "State machine", "Status", "Started", "Stopped", "Jobs"],
            [execution_row(e) for e in found["executions"]],
            "No executions yet",
        )
        + "<h2>Schedules</h2>"
        + table(
            "schedules",
            ["Kind", "Name", "Expression", "State", "Next", "Jobs"],
            [schedule_row(s) for s in found["schedules"]],
            "No scheduled rules or schedules",
        )
    )


def execution_row(execution: dict[str, Any]) -> str:
    return (
        "<tr>"
        + cells(
            f'<a href="{esc(execution_href(execution["executionArn"]))}">{esc(execution["name"])}</a>',
            esc(execution["stateMachineName"]),
            badge(execution["status"]),
            esc(iso(execution["startDate"])),
            esc(iso(execution["stopDate"])),
            esc(execution["jobs"]),
        )
        + "</tr>"
    )


def schedule_row(schedule: dict[str, Any]) -> str:
    return (
        "<tr>"
        + cells(
            esc(schedule["kind"]),
            esc(schedule["name"]),
            f"<code>{esc(schedule['expression'])}</code>",
            esc(schedule["state"]),
            esc(when(schedule["next"])),
            esc(schedule["jobs"]),
        )
        + "</tr>"
    )


def started_by(origin: dict[str, str] | None) -> str:
    """The job page's "Started by" value: a link to the execution, or the rule or schedule's name."""
    if origin is None:
        return ""
    if origin["kind"] == "execution":
        link = f'<a href="{esc(execution_href(origin["arn"]))}">{esc(origin["name"])}</a>'
        return f'<span id="started-by">Step Functions execution {link}</span>'
    kind = "EventBridge rule" if origin["kind"] == "rule" else "EventBridge Scheduler schedule"
    return f'<span id="started-by">{esc(kind)} <a href="{UI}#schedules">{esc(origin["name"])}</a></span>'


def execution_page(execution: dict[str, Any], version: str) -> str:
    facts = [
        ("Execution ARN", esc(execution["executionArn"])),
        ("State machine", esc(execution["stateMachineArn"])),
        ("Status", f'<span id="execution-status">{badge(execution["status"])}</span>'),
        ("Started", esc(iso(execution["startDate"]))),
        ("Stopped", esc(iso(execution["stopDate"]))),
        ("Error", esc(execution["error"])),
        ("Cause", f"<code>{esc(execution['cause'])}</code>"),
    ]
    jobs = [
        "<tr>" + cells(f'<a href="{esc(job_href(job_id))}">{esc(job_id)}</a>') + "</tr>"
        for job_id in execution["jobIds"]
    ]
    history = [
        "<tr>" + cells(esc(e["id"]), esc(e["type"]), esc(iso(e["timestamp"]))) + "</tr>"
        for e in execution["history"]
    ]
    body = (
        f'<p><a href="{UI}">&larr; overview</a></p><h1 id="execution-name">{esc(execution["name"])}</h1>'
        + '<dl class="facts">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
        + "</dl><h2>Jobs it submitted</h2>"
        + table("execution-jobs", ["Job id"], jobs, "No Batch jobs submitted")
        + "<h2>Input</h2>"
        + f'<pre id="execution-input">{esc(execution["input"])}</pre>'
        + "<h2>Output</h2>"
        + f'<pre id="execution-output">{esc(execution["output"])}</pre>'
        + "<h2>History</h2>"
        + table("execution-history", ["#", "Event", "At"], history, "No events")
    )
    return layout(execution["name"], body, "execution", "", version)

"""The job page's HTML: facts, attempts, log lines, parameters, environment, history and children.
Escapes as pages.py does. Imports pages."""

from __future__ import annotations

from typing import Any

from batchemu.dashboard.orchestration_pages import started_by
from batchemu.dashboard.pages import UI, badge, cells, esc, job_href, layout, table, when


def render(
    job: dict[str, Any], log_lines: list[dict[str, Any]], log_error: str | None, version: str, api: str
) -> str:
    facts = [
        ("Job id", esc(job["jobId"])),
        ("Job ARN", esc(job["jobArn"])),
        ("Status", f'<span id="job-status">{badge(job["status"])}</span>'),
        ("Status reason", f'<span id="job-reason">{esc(job["statusReason"])}</span>'),
        ("Queue", esc(job["jobQueue"])),
        ("Job definition", esc(job["jobDefinition"])),
        ("Account / region", esc(f"{job['account']} / {job['region']}")),
        ("Created", esc(when(job["createdAt"]))),
        ("Started", f'<span id="job-started">{esc(when(job["startedAt"]))}</span>'),
        ("Stopped", f'<span id="job-stopped">{esc(when(job["stoppedAt"]))}</span>'),
        ("Image", esc(job["image"])),
        ("Command", f"<code>{esc(' '.join(job['command']))}</code>"),
        (
            "Resources",
            esc(f"{job['vcpus']:g} vCPU, {job['memoryMiB']} MiB" if job["vcpus"] is not None else ""),
        ),
    ]
    if job.get("startedBy"):
        facts.append(("Started by", started_by(job["startedBy"])))
    if job["parentId"]:
        facts.append(("Parent", f'<a href="{esc(job_href(job["parentId"]))}">{esc(job["parentId"])}</a>'))
    facts_html = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    body = (
        f'<p><a href="{UI}">&larr; all jobs</a></p><h1 id="job-name">{esc(job["jobName"])}</h1>'
        f'<dl class="facts">{facts_html}</dl>'
        "<h2>Attempts</h2>"
        + table(
            "attempts",
            [
                "#",
                "Compute environment",
                "Started",
                "Stopped",
                "Exit code",
                "Reason",
                "Status reason",
                "Log stream",
            ],
            [attempt_row(a) for a in job["attempts"]],
            "No attempts yet",
        )
        + "<h2>Log lines</h2>"
        + f'<p id="log-error" class="error">{esc(log_error)}</p>'
        + f'<pre id="logs">{esc(log_text(log_lines))}</pre>'
        + "<h2>Parameters</h2>"
        + table(
            "parameters",
            ["Name", "Value"],
            [_pair(k, v) for k, v in sorted(job["parameters"].items())],
            "No parameters",
        )
        + "<h2>Environment</h2>"
        + table(
            "environment",
            ["Name", "Value"],
            [_pair(e["name"], e["value"]) for e in job["environment"]],
            "No environment variables",
        )
        + "<h2>History</h2>"
        + table(
            "history",
            ["At", "Status", "Status reason"],
            [history_row(h) for h in job["history"]],
            "No transitions",
        )
        + children(job)
    )
    return layout(job["jobName"], body, "job", api, version)


def attempt_row(attempt: dict[str, Any]) -> str:
    return (
        "<tr>"
        + cells(
            esc(attempt["number"]) + (" (live)" if attempt["live"] else ""),
            esc(attempt["computeEnvironment"]),
            esc(when(attempt["startedAt"])),
            esc(when(attempt["stoppedAt"])),
            esc(attempt["exitCode"]),
            esc(attempt["reason"]),
            esc(attempt["statusReason"]),
            esc(attempt["logStreamName"]),
        )
        + "</tr>"
    )


def history_row(entry: dict[str, Any]) -> str:
    return (
        "<tr>" + cells(esc(when(entry["at"])), badge(entry["status"]), esc(entry["statusReason"])) + "</tr>"
    )


def _pair(name: str, value: str) -> str:
    return "<tr>" + cells(f"<code>{esc(name)}</code>", f"<code>{esc(value)}</code>") + "</tr>"


def log_text(lines: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{line['attempt']}] {when(line['timestamp'])}  {line['message']}" for line in lines)


def children(job: dict[str, Any]) -> str:
    if not job["childCount"]:
        return ""
    rows = [
        "<tr>"
        + cells(f'<a href="{esc(job_href(c["jobId"]))}">{esc(c["jobId"])}</a>', badge(c["status"]))
        + "</tr>"
        for c in job["children"]
    ]
    shown = f" (first {len(rows)} of {job['childCount']})" if len(rows) < job["childCount"] else ""
    return f"<h2>Children{esc(shown)}</h2>" + table("children", ["Job id", "Status"], rows, "No children")


def not_found(message: str, version: str) -> str:
    body = f'<p><a href="{UI}">&larr; all jobs</a></p><h1>Not found</h1><p id="not-found">{esc(message)}</p>'
    return layout("Not found", body, "not-found", "", version)

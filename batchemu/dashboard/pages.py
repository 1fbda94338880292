"""The dashboard's HTML, rendered on the server from snapshot dicts. Every value that comes from a user
or from state passes through `esc` (text and attributes) or `quote` (URLs). Imports stdlib only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

UI = "/_batchemu/ui"
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def job_href(job_id: str) -> str:
    return f"{UI}/jobs/{quote(job_id, safe='')}"


def layout(title: str, body: str, page: str, api: str, version: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · batchemu</title>"
        f'<link rel="stylesheet" href="{UI}/static/app.css">'
        f'<script src="{UI}/static/app.js" defer></script></head>'
        f'<body data-page="{esc(page)}" data-api="{esc(api)}">'
        f'<header><a class="brand" href="{UI}">batchemu</a> <span class="muted">{esc(version)}</span>'
        '<span id="live" class="muted">live</span></header>'
        f"<main>{body}</main></body></html>"
    )


def table(table_id: str, headers: Iterable[str], rows: Iterable[str], empty: str) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(rows)
    return (
        f'<table id="{esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f'<tbody data-empty="{esc(empty)}">{body or _empty_row(empty)}</tbody></table>'
    )


def _empty_row(text: str) -> str:
    return f'<tr class="empty"><td colspan="99">{esc(text)}</td></tr>'


def cells(*values: str) -> str:
    """Cells already rendered (escaped by the caller)."""
    return "".join(f"<td>{value}</td>" for value in values)


def badge(status: str | None) -> str:
    return f'<span class="status status-{esc(status)}">{esc(status)}</span>'


# -- overview ------------------------------------------------------------------------------------------


def overview(snapshot: dict[str, Any], version: str, api: str, extra: str = "") -> str:
    """`extra`: sections already rendered (escaped by their renderer), put after the jobs."""
    body = (
        "<h1>AWS Batch, locally</h1>"
        "<h2>Compute environments</h2>"
        + table(
            "compute-environments",
            ["Name", "Account / region", "Type", "State", "Status", "vCPUs in use", ""],
            [compute_environment_row(ce) for ce in snapshot["computeEnvironments"]],
            "No compute environments yet",
        )
        + "<h2>Instances</h2>"
        + table(
            "instances",
            ["Instance", "Compute environment", "Type", "In use", "Jobs"],
            [instance_row(i) for i in snapshot.get("instances", [])],
            "No instances running (MANAGED EC2/SPOT compute environments launch them for jobs)",
        )
        + "<h2>Job queues</h2>"
        + table(
            "job-queues",
            ["Name", "Account / region", "State", "Status", "Priority", "Compute environments", *STATUSES],
            [job_queue_row(q) for q in snapshot["jobQueues"]],
            "No job queues yet",
        )
        + "<h2>Jobs</h2>"
        + status_filter(snapshot["totals"], snapshot["page"]["status"])
        + table(
            "jobs",
            ["Name", "Job id", "Queue", "Status", "Status reason", "Created", "Started", "Stopped"],
            [job_row(job) for job in snapshot["jobs"]],
            "No jobs yet",
        )
        + pager(snapshot["page"])
        + extra
    )
    return layout("Dashboard", body, "overview", api, version)


def compute_environment_row(ce: dict[str, Any]) -> str:
    limit = ce["maxvCpus"]
    used = f"{ce['vcpusUsed']:g} of {limit:g}" if limit is not None else f"{ce['vcpusUsed']:g}"
    meter = f'<meter min="0" max="{esc(limit)}" value="{esc(ce["vcpusUsed"])}"></meter>' if limit else ""
    return (
        f'<tr data-name="{esc(ce["name"])}">'
        + cells(
            f'<span title="{esc(ce["arn"])}">{esc(ce["name"])}</span>',
            esc(f"{ce['account']} / {ce['region']}"),
            esc(f"{ce['type']} {ce['platform']}"),
            esc(ce["state"]),
            esc(ce["status"]),
            f'<span class="vcpus">{esc(used)}</span>',
            meter,
        )
        + "</tr>"
    )


def instance_row(instance: dict[str, Any]) -> str:
    used = instance["used"]
    in_use = (
        f"{used['vcpus']:g} of {instance['vcpus']} vCPUs, {used['memoryMiB']:g} of "
        f"{instance['registeredMemoryMiB']} MiB"
    )
    if instance["gpus"]:
        in_use += f", {used['gpus']:g} of {instance['gpus']} GPUs"
    jobs = " ".join(f'<a href="{job_href(job_id)}">{esc(job_id)}</a>' for job_id in instance["jobs"])
    kind = instance["instanceType"] + (" (Spot)" if instance["spot"] else "")
    return (
        f'<tr data-instance-id="{esc(instance["instanceId"])}">'
        + cells(
            f'<span title="{esc(instance["containerInstanceArn"])}">{esc(instance["instanceId"])}</span>',
            esc(instance["computeEnvironment"]),
            esc(kind),
            esc(in_use),
            jobs,
        )
        + "</tr>"
    )


def job_queue_row(queue: dict[str, Any]) -> str:
    counts = [f'<span class="count">{esc(queue["counts"][s])}</span>' for s in STATUSES]
    return (
        f'<tr data-name="{esc(queue["name"])}">'
        + cells(
            f'<span title="{esc(queue["arn"])}">{esc(queue["name"])}</span>',
            esc(f"{queue['account']} / {queue['region']}"),
            esc(queue["state"]),
            esc(queue["status"]),
            esc(queue["priority"]),
            esc(", ".join(queue["computeEnvironments"])),
            *counts,
        )
        + "</tr>"
    )


def job_row(job: dict[str, Any]) -> str:
    name = job["jobName"]
    if job.get("arraySize"):
        name = f"{name} [array of {job['arraySize']}]"
    elif job.get("numNodes"):
        name = f"{name} [{job['numNodes']} nodes]"
    return (
        f'<tr data-job-id="{esc(job["jobId"])}">'
        + cells(
            esc(name),
            f'<a href="{esc(job_href(job["jobId"]))}">{esc(job["jobId"])}</a>',
            esc(job["jobQueue"]),
            badge(job["status"]),
            esc(job["statusReason"]),
            esc(when(job["createdAt"])),
            esc(when(job["startedAt"])),
            esc(when(job["stoppedAt"])),
        )
        + "</tr>"
    )


def status_filter(totals: dict[str, int], current: str | None) -> str:
    links = [_filter_link("All", None, sum(totals.values()), current)]
    links += [_filter_link(s, s, totals.get(s, 0), current) for s in STATUSES]
    return f'<nav id="status-filter">{" ".join(links)}</nav>'


def _filter_link(label: str, status: str | None, count: int, current: str | None) -> str:
    href = UI + (f"?{urlencode({'status': status})}" if status else "")
    active = ' class="active"' if status == current else ""
    return f'<a{active} href="{esc(href)}" data-status="{esc(status or "")}">{esc(label)} <span>{esc(count)}</span></a>'


def pager(page: dict[str, Any]) -> str:
    offset, limit, total, status = page["offset"], page["limit"], page["total"], page["status"]
    extra = {"status": status} if status else {}
    parts = [f'<span id="page-info">{esc(_page_info(offset, limit, total))}</span>']
    if offset > 0:
        query = urlencode({**extra, "offset": max(0, offset - limit), "limit": limit})
        parts.insert(0, f'<a rel="prev" href="{esc(UI + "?" + query)}">Newer</a>')
    if offset + limit < total:
        query = urlencode({**extra, "offset": offset + limit, "limit": limit})
        parts.append(f'<a rel="next" href="{esc(UI + "?" + query)}">Older</a>')
    return f'<nav class="pager">{" ".join(parts)}</nav>'


def _page_info(offset: int, limit: int, total: int) -> str:
    if total == 0:
        return "0 jobs"
    return f"{offset + 1}-{min(offset + limit, total)} of {total} jobs"

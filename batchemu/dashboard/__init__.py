"""The dashboard at /_batchemu/ui: server-rendered pages for compute environments, queues and jobs, a job
page with its log lines, and the JSON the pages poll to stay live. `handle` is its only entry point."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from batchemu import __version__
from batchemu.dashboard import assets, job_page, orchestration, orchestration_pages, pages, snapshot
from batchemu.dashboard.logs import reader_for

if TYPE_CHECKING:
    from batchemu.emulator import Emulator

__all__ = ["handle"]

PREFIX = "/_batchemu/ui"
# Defence in depth behind escaping: no inline script or style can run, whatever a job name holds.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def handle(request: Request, emulator: Emulator) -> Response:
    """Answers every GET under /_batchemu/ui; anything else is 404 (or 405 for another method)."""
    path = request.path[len(PREFIX) :].strip("/")
    if request.method not in ("GET", "HEAD"):
        return _respond(json.dumps({"message": "the dashboard is read-only"}), 405, "application/json")
    if path == "":
        found = _summary(request, emulator)
        extra = orchestration_pages.tables(found)
        return _respond(pages.overview(found, __version__, _summary_api(request), extra), 200)
    if path == "api/summary":
        return _respond(json.dumps(_summary(request, emulator)), 200, "application/json")
    if path.startswith("jobs/"):
        return _job_page(path[len("jobs/") :], emulator)
    if path.startswith("api/jobs/"):
        return _job_json(path[len("api/jobs/") :], emulator)
    if path.startswith("executions/"):
        return _execution_page(unquote(path[len("executions/") :]), emulator)
    if path == "static/app.js":
        return _respond(assets.JS, 200, "text/javascript; charset=utf-8")
    if path == "static/app.css":
        return _respond(assets.CSS, 200, "text/css; charset=utf-8")
    return _respond(job_page.not_found(f"No dashboard page {request.path}", __version__), 404)


def _summary(request: Request, emulator: Emulator) -> dict[str, Any]:
    limit = min(max(_int(request.args.get("limit"), snapshot.DEFAULT_LIMIT), 1), snapshot.MAX_LIMIT)
    offset = max(_int(request.args.get("offset"), 0), 0)
    status = request.args.get("status")
    status = status if status in snapshot.STATUSES else None
    now_ms = int(emulator.clock.now() * 1000)
    found = snapshot.summary(emulator.store, now_ms, limit, offset, status)
    found["instances"] = emulator.instances()
    found.update(orchestration.summary(emulator))
    return found


def _summary_api(request: Request) -> str:
    query = request.query_string.decode("latin-1")
    return f"{PREFIX}/api/summary" + (f"?{query}" if query else "")


def _job(job_id: str, emulator: Emulator) -> dict[str, Any] | None:
    found = snapshot.find_job(emulator.store, job_id)
    if found is None:
        return None
    job, targets = found
    job["startedBy"] = orchestration.origin(emulator, job_id)
    endpoint = emulator.settings.aws_endpoint or emulator.endpoint
    if endpoint is None:
        return {"job": job, "logs": [], "logError": "the emulator is not served, so logs cannot be read"}
    lines, error = reader_for(endpoint, emulator.settings.internal_secret).lines(
        targets
    )  # outside the store lock: this is an HTTP call
    return {"job": job, "logs": lines, "logError": error}


def _job_page(job_id: str, emulator: Emulator) -> Response:
    found = _job(job_id, emulator)
    if found is None:
        return _respond(job_page.not_found(f"No job {job_id}", __version__), 404)
    api = f"{PREFIX}/api/jobs/{quote(job_id, safe='')}"
    return _respond(job_page.render(found["job"], found["logs"], found["logError"], __version__, api), 200)


def _job_json(job_id: str, emulator: Emulator) -> Response:
    found = _job(job_id, emulator)
    if found is None:
        return _respond(
            json.dumps({"__type": "NotFound", "message": f"No job {job_id}"}), 404, "application/json"
        )
    return _respond(json.dumps(found), 200, "application/json")


def _execution_page(arn: str, emulator: Emulator) -> Response:
    execution = orchestration.execution(emulator, arn)
    if execution is None:
        return _respond(job_page.not_found(f"No execution {arn}", __version__), 404)
    return _respond(orchestration_pages.execution_page(execution, __version__), 200)


def _respond(body: str, status: int, content_type: str = "text/html; charset=utf-8") -> Response:
    response = Response(body, status, content_type=content_type)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default

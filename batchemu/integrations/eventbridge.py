"""The EventBridge glue AWS provides for Batch, both ways: "Batch Job State Change" and "Batch Job Queue
Blocked" events onto the default bus, and rules whose target is a job queue submitting jobs (moto's side
of that is hooked in moto_events). Imports the integrations, service views and the protocol serializer.

What a job-queue target submits, as AWS documents it (batch-cwe-target, eb-transform-target-input):
- the target input is, in order of precedence, `Input` (constant JSON text), `InputPath` (a JSONPath into
  the event, e.g. `$.detail`), `InputTransformer`, else the whole event;
- `InputTransformer`: `InputPathsMap` names JSONPaths into the event (dot notation and array indices), and
  `InputTemplate` uses them as `<name>`, with the predefined `<aws.events.rule-arn>`,
  `<aws.events.rule-name>`, `<aws.events.event.ingestion-time>`, `<aws.events.event>` (the event without
  `detail`) and `<aws.events.event.json>`. In a JSON template a placeholder outside quotes becomes the JSON
  value (strings get quoted by EventBridge, so `{"a": <bucket>}` is valid), one inside a string is
  inserted as text; a path missing from the event gives null (empty text inside a string). A template
  that is not a JSON object or array is plain text, sent as a string;
- from the input (when a JSON object) the top-level `Parameters` (a string map; other values are sent as
  JSON text) become SubmitJob `parameters`, and `ContainerOverrides` with capitalised members (`Command`,
  `Environment[{Name,Value}]`, `ResourceRequirements[{Type,Value}]`, `InstanceType`) become
  `containerOverrides`; other input members are ignored;
- `BatchParameters`: `JobDefinition` (name or ARN), `JobName` (AWS requires it; the rule name otherwise),
  `ArrayProperties.Size` -> arrayProperties.size, `RetryStrategy.Attempts` -> retryStrategy.attempts.
The job is submitted through batchemu's own Batch API, as the rule's account and region, from the outbox.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from batchemu.domain.models import Job
from batchemu.domain.store import Backend, Store
from batchemu.integrations import dead_letters
from batchemu.integrations.aws import AwsClients
from batchemu.integrations.moto_events import (
    RuleInfo,
    default_bus_has_rules,
    register_job_queue_sink,
    unregister_job_queue_sink,
)
from batchemu.integrations.origins import Origin, Origins
from batchemu.integrations.outbox import Outbox
from batchemu.protocol.serializer import to_wire
from batchemu.protocol.spec import service_model
from batchemu.service.job_views import job_detail

log = logging.getLogger("batchemu.events")
SOURCE = "aws.batch"
STATE_CHANGE = "Batch Job State Change"
QUEUE_BLOCKED = "Batch Job Queue Blocked"
BLOCKED_REASONS = ("MISCONFIGURATION:", "CAPACITY:")
MAX_ENTRIES = 10  # per PutEvents


class JobStateEvents:
    """A store transition listener: renders the event under the store lock, sends it from the outbox."""

    def __init__(self, clients: AwsClients, outbox: Outbox) -> None:
        self.clients = clients
        self.outbox = outbox
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._send_scheduled = False
        self._lock = threading.Lock()
        self.job_queue_targets: JobQueueTargets | None = None  # held here so the weak sink lives
        # Whether a rule could receive events of (account, region); sending to a bus with no rules is
        # skipped, which matters when thousands of jobs run and nobody listens.
        self.has_rules: Callable[[str, str], bool] = lambda account, region: True

    def close(self) -> None:
        """Rules stop reaching this emulator's job queues (it is stopping)."""
        if self.job_queue_targets is not None:
            unregister_job_queue_sink(self.job_queue_targets)

    def on_transition(self, backend: Backend, job: Job, old_status: str) -> None:
        if not self.has_rules(backend.account, backend.region):
            return  # nobody listens: no event to render (EventBridge does not deliver to later rules)
        if job.status != old_status and job.status != "SUBMITTED":
            self._queue(backend, job, STATE_CHANGE, [job.arn])
        elif job.status == old_status == "RUNNABLE" and (job.status_reason or "").startswith(BLOCKED_REASONS):
            self._queue(backend, job, QUEUE_BLOCKED, [job.arn, job.job_queue_arn])

    def _queue(self, backend: Backend, job: Job, detail_type: str, resources: list[str]) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Resources": resources,
            "Detail": json.dumps(to_wire(job_detail(backend, job), _job_detail_shape())),
            "Time": datetime.datetime.fromtimestamp(job.status_changed_at / 1000, tz=datetime.UTC),
        }
        with self._lock:
            self._pending.append((backend.account, backend.region, entry))
            scheduled, self._send_scheduled = self._send_scheduled, True
        if not scheduled:  # one send task drains whatever has piled up by the time it runs
            self.outbox.put(self.send)

    def send(self) -> None:
        """Sends every pending event, in order, up to ten per PutEvents (runs on the outbox thread)."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._send_scheduled = False
        start = 0
        while start < len(pending):
            account, region, _ = pending[start]
            end = start
            while end < len(pending) and end - start < MAX_ENTRIES and pending[end][:2] == (account, region):
                end += 1
            batch: list[dict[str, Any]] = [entry for _, _, entry in pending[start:end]]
            start = end
            try:
                answer = self.clients.client("events", account, region).put_events(Entries=batch)
                if answer.get("FailedEntryCount"):
                    log.warning("EventBridge refused %s Batch events", answer["FailedEntryCount"])
            except Exception:
                log.exception("could not put %d Batch events to EventBridge", len(batch))


@cache
def _job_detail_shape() -> Any:
    return service_model().shape_for("JobDetail")


class JobQueueTargets:
    """The moto_events sink: turns a matched job-queue target into a SubmitJob sent from the outbox."""

    def __init__(
        self, store: Store, batch_clients: AwsClients, outbox: Outbox, origins: Origins | None = None
    ) -> None:
        self.store = store
        self.batch_clients = batch_clients
        self.outbox = outbox
        self.origins = origins

    def owns(self, job_queue_arn: str) -> bool:
        """Lock-free: called from moto's request thread, which must never wait for the store."""
        return any(backend.find_job_queue(job_queue_arn) is not None for backend in self.store.backends())

    def deliver(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None:
        self.outbox.put(lambda: self.submit_or_dead_letter(rule, target, event))

    def submit(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None:
        """SubmitJob now, on the caller's thread (never a moto request thread); raises what it raises."""
        request = submit_job_request(rule, target, target_input(rule, target, event))
        batch = self.batch_clients.client("batch", rule.account, rule.region)
        job = batch.submit_job(**request)
        if self.origins is not None:
            self.origins.note(job["jobId"], Origin("rule", rule.arn, rule.name))
        log.info("rule %s submitted job %s (%s)", rule.name, job["jobId"], job["jobName"])

    def submit_or_dead_letter(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None:
        try:
            self.submit(rule, target, event)
        except Exception as error:
            log.warning("rule %s: SubmitJob to %s failed: %s", rule.name, target.get("Arn"), error)
            dead_letter(self.batch_clients, rule, target, event, error)


def dead_letter(
    clients: AwsClients, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any], error: BaseException
) -> None:
    """The event to the target's DeadLetterConfig queue, with the attributes EventBridge documents
    (rule-dlq: RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE)."""
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": str(target.get("Arn", "")),
        "ERROR_CODE": dead_letters.rule_error_code(error),
        "ERROR_MESSAGE": dead_letters.error_text(error)[1][:1000],
    }
    dead_letters.send(clients, target, event, attributes)


def connect(
    store: Store,
    clients: AwsClients,
    batch_endpoint: str,
    outbox: Outbox,
    hook_moto: bool,
    origins: Origins | None = None,
) -> JobStateEvents:
    """Wires both directions; returns the state-change publisher (its on_transition is the listener).
    The sink is held by the publisher, so it lives as long as the emulator does."""
    events = JobStateEvents(clients, outbox)
    if hook_moto:
        events.job_queue_targets = JobQueueTargets(store, AwsClients(batch_endpoint), outbox, origins)
        register_job_queue_sink(events.job_queue_targets)
        events.has_rules = default_bus_has_rules
    return events


# -- what a target sends -------------------------------------------------------------------------------
def target_input(rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> Any:
    """The input EventBridge gives the target: Input, InputPath, InputTransformer or the whole event."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        found, value = json_path(event, target["InputPath"])
        return value if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        return transform(rule, transformer, event)
    return event


def transform(rule: RuleInfo, transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    variables: dict[str, tuple[bool, Any]] = {
        name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    variables.update(
        {
            "aws.events.rule-arn": (True, rule.arn),
            "aws.events.rule-name": (True, rule.name),
            "aws.events.event.ingestion-time": (True, rule.ingestion_time),
            "aws.events.event": (True, {k: v for k, v in event.items() if k != "detail"}),
            "aws.events.event.json": (True, event),
        }
    )
    template = str(transformer.get("InputTemplate", ""))
    if not template.lstrip().startswith(("{", "[")):
        return _PLACEHOLDER.sub(lambda m: _as_text(variables, m), template)
    pieces = []
    for index, piece in enumerate(_JSON_STRING.split(template)):
        # split() with one capturing group alternates: outside strings, then a whole string literal
        if index % 2:
            pieces.append(_PLACEHOLDER.sub(lambda m: _escaped(_as_text(variables, m)), piece))
        else:
            pieces.append(_PLACEHOLDER.sub(lambda m: _as_json(variables, m), piece))
    return json.loads("".join(pieces))


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_JSON_STRING = re.compile(r'("(?:\\.|[^"\\])*")')
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def _as_json(variables: dict[str, tuple[bool, Any]], match: re.Match[str]) -> str:
    if match.group(1) not in variables:
        return match.group(0)
    found, value = variables[match.group(1)]
    return json.dumps(value if found else None)


def _as_text(variables: dict[str, tuple[bool, Any]], match: re.Match[str]) -> str:
    if match.group(1) not in variables:
        return match.group(0)
    found, value = variables[match.group(1)]
    if not found or value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _escaped(text: str) -> str:
    return json.dumps(text)[1:-1]


def json_path(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) for a JSONPath of the dot-and-index kind EventBridge accepts: $.a.b, $.a[0]."""
    path = path.strip()
    if not path.startswith("$"):
        return False, None
    value, position = document, 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            return False, None
        position = step.end()
        key = step.group(1) if step.group(1) is not None else step.group(3)
        if key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        elif step.group(2) is not None and isinstance(value, list) and int(step.group(2)) < len(value):
            value = value[int(step.group(2))]
        else:
            return False, None
    return True, value


def submit_job_request(rule: RuleInfo, target: dict[str, Any], target_input: Any) -> dict[str, Any]:
    """boto3 SubmitJob arguments from the target's BatchParameters and its input."""
    batch = target.get("BatchParameters") or {}
    request: dict[str, Any] = {
        "jobName": batch.get("JobName") or rule.name,
        "jobQueue": target["Arn"],
        "jobDefinition": batch.get("JobDefinition", ""),
    }
    if (batch.get("ArrayProperties") or {}).get("Size"):
        request["arrayProperties"] = {"size": int(batch["ArrayProperties"]["Size"])}
    if (batch.get("RetryStrategy") or {}).get("Attempts"):
        request["retryStrategy"] = {"attempts": int(batch["RetryStrategy"]["Attempts"])}
    if isinstance(target_input, dict):
        parameters = target_input.get("Parameters")
        if isinstance(parameters, dict):
            request["parameters"] = {
                str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parameters.items()
            }
        overrides = container_overrides(target_input.get("ContainerOverrides"))
        if overrides:
            request["containerOverrides"] = overrides
    return request


def container_overrides(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        return {}
    overrides: dict[str, Any] = {}
    if isinstance(given.get("Command"), list):
        overrides["command"] = [str(part) for part in given["Command"]]
    if isinstance(given.get("Environment"), list):
        overrides["environment"] = [
            {"name": str(item.get("Name")), "value": str(item.get("Value", ""))}
            for item in given["Environment"]
            if isinstance(item, dict) and item.get("Name")
        ]
    if isinstance(given.get("ResourceRequirements"), list):
        overrides["resourceRequirements"] = [
            {"type": str(item.get("Type")), "value": str(item.get("Value"))}
            for item in given["ResourceRequirements"]
            if isinstance(item, dict) and item.get("Type")
        ]
    if given.get("InstanceType"):
        overrides["instanceType"] = str(given["InstanceType"])
    return overrides

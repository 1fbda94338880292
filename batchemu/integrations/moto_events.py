"""The adapter that lets moto's EventBridge deliver to Batch job-queue targets, and the only place batchemu
changes moto's behaviour. It may import moto (lazily) and the standard library, nothing of batchemu's.

Hook point: `moto.events.models.Rule.send_to_targets(self, original_event, transform_input=True)`, which
moto calls for every rule of a bus on PutEvents, and for every rule of every bus when S3 sends an
"Object Created" (or other) event with EventBridge notifications enabled (`moto/s3/notifications.py`,
`_send_event_bridge_message`, with transform_input=False). Tested with moto 5.2.5; any moto 5.x with that
function is accepted, other versions are tried with a warning, and without the function a warning is
logged and nothing is hooked (rules with job-queue targets then do nothing, as before).

The wrapper, installed once per process:
- skips DISABLED rules (moto fires them anyway; AWS does not);
- hands each target whose Arn is a Batch job queue, when the rule's pattern matches, to the registered
  sink (`deliver(rule, target, event)`, which must only enqueue: the wrapper runs inside a moto request
  thread), with the event in AWS's shape (ISO time, no moto-internal fields);
- calls moto's own function once per other target, so a target that fails (or a kind moto does not
  deliver to, which raises NotImplementedError) is logged and neither stops the others nor turns PutEvents
  into a 500.

moto keeps one store per process, so sinks are process-wide too: the queue's owner (a sink whose `owns`
says so) wins, else the newest live sink. With --aws-endpoint (other services proxied to an external
emulator) events never pass through this process's moto, so nothing here can see them: rules with a
job-queue target in that emulator do not reach batchemu.
"""

from __future__ import annotations

import copy
import datetime
import inspect
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("batchemu.events")

TESTED_MOTO = "5.2.5"
ACCEPTED_MAJOR = 5


@dataclass(frozen=True)
class RuleInfo:
    name: str
    arn: str
    account: str
    region: str
    ingestion_time: str  # ISO 8601, for <aws.events.event.ingestion-time>


class JobQueueSink(Protocol):
    def owns(self, job_queue_arn: str) -> bool: ...

    def deliver(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None: ...


_sinks: list[weakref.ref[Any]] = []
_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet
_events_backends: Any = None  # moto's, once default_bus_has_rules has imported it


def register_job_queue_sink(sink: JobQueueSink) -> bool:
    """Delivers job-queue targets to `sink` from now on (held weakly); True when the hook is in place."""
    with _lock:
        _sinks.append(weakref.ref(sink))
        return _install()


def unregister_job_queue_sink(sink: JobQueueSink) -> None:
    """`sink` gets nothing more (its emulator stopped; another may serve the same queue ARN)."""
    with _lock:
        _sinks[:] = [ref for ref in _sinks if ref() is not None and ref() is not sink]


def existing_backend(backends: Any, account: str, region: str) -> Any:
    """moto's backend of (account, region) in `backends` (a BackendDict) if it was ever created, else None.
    Plain dict lookups: BackendDict.__getitem__ creates backends under a process-wide lock, which costs
    more than the rest of a job transition."""
    by_region = dict.get(backends, account)
    return dict.get(by_region, region) if by_region is not None else None


def default_bus_has_rules(account: str, region: str) -> bool:
    """Whether this process's moto has any rule on the default bus of (account, region); True when that
    cannot be told. A dictionary lookup in moto's store: cheap enough for every job transition."""
    global _events_backends
    try:
        if _events_backends is None:
            from moto.events.models import events_backends

            _events_backends = events_backends
        backend = existing_backend(_events_backends, account, region)  # one never created holds no rule
        return backend is not None and bool(backend.event_buses["default"].rules)
    except Exception:
        return True


def is_job_queue_arn(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "batch" and parts[5].startswith("job-queue/")


def _install() -> bool:
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    try:
        import moto
        from moto.events import models
    except Exception as error:  # moto missing or broken: Batch itself still works
        log.warning(
            "moto's EventBridge is unavailable (%s); rules with job-queue targets will do nothing", error
        )
        return False
    original = getattr(getattr(models, "Rule", None), "send_to_targets", None)
    parameters = list(inspect.signature(original).parameters) if callable(original) else []
    if parameters[:2] != ["self", "original_event"]:
        log.warning(
            "moto %s has no Rule.send_to_targets(self, original_event, ...) (tested with %s); rules with "
            "job-queue targets will do nothing",
            moto.__version__,
            TESTED_MOTO,
        )
        return False
    if not str(moto.__version__).startswith(f"{ACCEPTED_MAJOR}."):
        log.warning(
            "moto %s is untested (tested with %s); hooking job-queue targets anyway",
            moto.__version__,
            TESTED_MOTO,
        )
    models.Rule.send_to_targets = _wrap(original, passes_transform="transform_input" in parameters)  # type: ignore[method-assign]
    _installed = True
    return True


def _wrap(original: Any, passes_transform: bool) -> Any:
    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if getattr(rule, "state", "ENABLED") == "DISABLED":
            return
        targets = list(getattr(rule, "targets", []))
        queue_targets = [t for t in targets if is_job_queue_arn(str(t.get("Arn", "")))]
        try:
            if queue_targets and rule.event_pattern.matches_event(original_event):
                _deliver_to_queues(rule, queue_targets, original_event)
        except Exception:
            log.exception("rule %s: could not deliver to its job-queue targets", getattr(rule, "name", "?"))
        extra = {"transform_input": transform_input} if passes_transform else {}
        for target in targets:
            if target in queue_targets:
                continue
            try:
                original(_OneTarget(rule, target), copy.deepcopy(original_event), **extra)
            except NotImplementedError:
                log.warning("rule %s: moto does not deliver to target %s", rule.name, target.get("Arn"))
            except Exception:
                log.exception("rule %s: delivery to target %s failed", rule.name, target.get("Arn"))

    send_to_targets.__wrapped__ = original  # type: ignore[attr-defined]
    send_to_targets.__doc__ = "batchemu: job-queue targets, DISABLED rules skipped, one target at a time."
    return send_to_targets


class _OneTarget:
    """The rule as moto's own function sees it, with a single target."""

    def __init__(self, rule: Any, target: dict[str, Any]) -> None:
        self._rule = rule
        self.targets = [target]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)


def _deliver_to_queues(rule: Any, targets: list[dict[str, Any]], moto_event: dict[str, Any]) -> None:
    event, ingested = aws_event(moto_event)
    info = RuleInfo(rule.name, rule.arn, rule.account_id, rule.region_name, ingested)
    for target in targets:
        sink = _sink_for(str(target["Arn"]))
        if sink is None:
            log.warning("rule %s: no emulator takes job queue %s", rule.name, target["Arn"])
            continue
        try:
            sink.deliver(info, target, copy.deepcopy(event))
        except Exception:
            log.exception("rule %s: job-queue target %s failed", rule.name, target.get("Arn"))


def _sink_for(job_queue_arn: str) -> Any:
    with _lock:
        _sinks[:] = [ref for ref in _sinks if ref() is not None]
        live = [sink for sink in (ref() for ref in reversed(_sinks)) if sink is not None]
    for sink in live:
        try:
            if sink.owns(job_queue_arn):
                return sink
        except Exception:
            continue
    return live[0] if live else None


def aws_event(moto_event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """moto's event as AWS shapes it (ISO `time`, S3's lower-case `etag`, no `ingestion-time`), and the
    ingestion time in ISO 8601."""
    event = copy.deepcopy(moto_event)
    ingested = event.pop("ingestion-time", None)
    event["time"] = _iso(event.get("time"))
    obj = (event.get("detail") or {}).get("object") if event.get("source") == "aws.s3" else None
    if isinstance(obj, dict):
        if "eTag" in obj and "etag" not in obj:
            obj["etag"] = obj.pop("eTag")
        if obj.get("version-id") is None:
            obj.pop("version-id", None)
    return event, _iso(ingested if ingested is not None else event["time"])


def _iso(value: Any) -> str:
    if isinstance(value, (int, float)):
        moment = datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if value is None:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)

"""The adapter that lets moto's EventBridge deliver to Batch job-queue targets and fire scheduled rules, and
the only place batchemu changes moto's EventBridge. It may import moto (lazily), the standard library, the
pure schedule_expressions and moto_watch, nothing else of batchemu's.

Hook point: `moto.events.models.Rule.send_to_targets(self, original_event, transform_input=True)`, which
moto calls for every rule of a bus on PutEvents, and for every rule of every bus when S3 sends an
"Object Created" (or other) event with EventBridge notifications enabled (`moto/s3/notifications.py`,
`_send_event_bridge_message`, with transform_input=False). Tested with moto 5.2.5; any moto 5.x with that
function is accepted, other versions are tried with a warning, and without the function a warning is
logged and nothing is hooked (rules with job-queue targets then do nothing, as before).

The wrapper, installed once per process:
- skips DISABLED rules (moto fires them anyway; AWS does not), and rules with a ScheduleExpression and no
  EventPattern (moto takes a missing pattern as "match everything": a scheduled rule with a job-queue
  target then submitted a job for every event, and each job's events fired it again). A rule with both
  fires on matching events and on its schedule, as PutRule's documentation says;
- hands Lambda and Step Functions targets (moto raises NotImplementedError for them) to the active
  schedule watcher (moto_watch), which invokes them through the endpoint;
- hands each target whose Arn is a Batch job queue, when the rule's pattern matches, to the registered
  sink (`deliver(rule, target, event)`, which must only enqueue: the wrapper runs inside a moto request
  thread), with the event in AWS's shape (ISO time, no moto-internal fields);
- calls moto's own function once per other target, so a target that fails (or a kind moto does not
  deliver to, which raises NotImplementedError) is logged and neither stops the others nor turns PutEvents
  into a 500.

Rule hooks (install_rule_hooks): `EventsBackend.put_rule`, `delete_rule`, `enable_rule` and `disable_rule`
report each change to moto_watch, so the active emulator re-arms the rule's timer; put_rule first refuses
a ScheduleExpression AWS refuses (moto's regex lets `rate(1 minutes)` and any `cron(...)` through) with
moto's own `ValidationException: Parameter ScheduleExpression is not valid.`.

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
from dataclasses import dataclass
from typing import Any, Protocol

from batchemu.domain.schedule_expressions import InvalidExpression, parse_rule_expression
from batchemu.integrations import moto_watch
from batchemu.integrations.moto_hooks import Registry, hook_methods, hook_point_missing, moto_version

log = logging.getLogger("batchemu.events")



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

    def submit(self, rule: RuleInfo, target: dict[str, Any], event: dict[str, Any]) -> None: ...


_sinks: Registry[Any] = Registry()
_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet
_events_backends: Any = None  # moto's, once default_bus_has_rules has imported it


def register_job_queue_sink(sink: JobQueueSink) -> bool:
    """Delivers job-queue targets to `sink` from now on (held weakly); True when the hook is in place."""
    _sinks.add(sink)
    with _lock:
        return _install()


def unregister_job_queue_sink(sink: JobQueueSink) -> None:
    """`sink` gets nothing more (its emulator stopped; another may serve the same queue ARN)."""
    _sinks.remove(sink)


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
    if moto_version("EventBridge rules with job-queue targets") is None:
        return False
    from moto.events import models

    original = getattr(getattr(models, "Rule", None), "send_to_targets", None)
    parameters = list(inspect.signature(original).parameters) if callable(original) else []
    if parameters[:2] != ["self", "original_event"]:
        hook_point_missing("rules with job-queue targets will do nothing", "Rule.send_to_targets(self, original_event, ...)")
        return False
    models.Rule.send_to_targets = _wrap(original, passes_transform="transform_input" in parameters)  # type: ignore[method-assign]
    _installed = True
    return True


def _wrap(original: Any, passes_transform: bool) -> Any:
    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if getattr(rule, "state", "ENABLED") == "DISABLED" or only_scheduled(rule):
            return
        targets = list(getattr(rule, "targets", []))
        queue_targets = [t for t in targets if is_job_queue_arn(str(t.get("Arn", "")))]
        invoked = [t for t in targets if is_invoked_target(str(t.get("Arn", "")))]
        try:
            if (queue_targets or invoked) and rule.event_pattern.matches_event(original_event):
                _deliver_to_queues(rule, queue_targets, original_event)
                _deliver_invoked(rule, invoked, original_event)
        except Exception:
            log.exception("rule %s: could not deliver to its job-queue targets", getattr(rule, "name", "?"))
        extra = {"transform_input": transform_input} if passes_transform else {}
        for target in targets:
            if target in queue_targets or target in invoked:
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


def only_scheduled(rule: Any) -> bool:
    """A rule with a ScheduleExpression and no EventPattern: ordinary events never match it."""
    if not getattr(rule, "scheduled_expression", None):
        return False
    pattern = getattr(rule, "event_pattern", None)
    return pattern is None or not pattern.get_pattern()


def is_invoked_target(arn: str) -> bool:
    """Targets moto does not deliver to, which batchemu invokes through the endpoint."""
    parts = arn.split(":", 6)
    return len(parts) >= 6 and (
        (parts[2] == "lambda" and parts[5] == "function")
        or (parts[2] == "states" and parts[5] == "stateMachine")
    )


def _deliver_invoked(rule: Any, targets: list[dict[str, Any]], moto_event: dict[str, Any]) -> None:
    if not targets:
        return
    watcher = moto_watch.active_watcher()
    if watcher is None:
        log.warning("rule %s: no emulator invokes Lambda or Step Functions targets", rule.name)
        return
    event, ingested = aws_event(moto_event)
    info = RuleInfo(rule.name, rule.arn, rule.account_id, rule.region_name, ingested)
    for target in targets:
        watcher.deliver_event_target(info, target, copy.deepcopy(event))


class _MatchAll:
    """An event pattern that matches every event: a scheduled firing is not matched against the pattern."""

    def matches_event(self, event: Any) -> bool:
        return True

    def get_pattern(self) -> dict[str, Any]:
        return {}


class _OneTarget:
    """The rule as moto's own function sees it, with a single target."""

    def __init__(self, rule: Any, target: dict[str, Any], match_all: bool = False) -> None:
        self._rule = rule
        self.targets = [target]
        if match_all:
            self.event_pattern = _MatchAll()

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


def job_queue_sink(job_queue_arn: str) -> JobQueueSink | None:
    """The sink that serves `job_queue_arn`: its owner, else the newest live one, else None."""
    return _sink_for(job_queue_arn)  # type: ignore[no-any-return]


def _sink_for(job_queue_arn: str) -> Any:
    live = _sinks.live()
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


# -- scheduled rules ------------------------------------------------------------------------------------
_RULE_HOOKS = ("put_rule", "delete_rule", "enable_rule", "disable_rule")
_rule_hooks: bool | None = None  # None: not tried yet


def install_rule_hooks() -> bool:
    """Reports rule changes to moto_watch and validates schedule expressions; True when in place."""
    global _rule_hooks
    with _lock:
        if _rule_hooks is not None:
            return _rule_hooks
        _rule_hooks = False
        if moto_version("scheduled rules") is None:
            return False
        from moto.events import models

        _rule_hooks = hook_methods(
            "scheduled rules will not fire",
            getattr(models, "EventsBackend", None),
            "EventsBackend",
            _RULE_HOOKS,
            lambda original, name: _hook_rule_change(original, name == "put_rule"),
        )
        return _rule_hooks


def _hook_rule_change(original: Any, validates: bool) -> Any:
    signature = inspect.signature(original)

    def hooked(backend: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(backend, *args, **kwargs)
        expression = bound.arguments.get("scheduled_expression")
        if validates and expression:
            try:
                parse_rule_expression(expression)
            except InvalidExpression:
                from moto.events.exceptions import ValidationException

                raise ValidationException("Parameter ScheduleExpression is not valid.") from None
        result = original(backend, *args, **kwargs)
        name = bound.arguments.get("name")
        if name:
            moto_watch.notify(("rule", backend.account_id, backend.region_name, str(name)))
        return result

    hooked.__wrapped__ = original  # type: ignore[attr-defined]
    return hooked


def find_rule(account: str, region: str, name: str) -> Any:
    """moto's Rule `name` on the default bus of (account, region), or None."""
    from moto.events.models import events_backends

    backend = existing_backend(events_backends, account, region)
    bus = backend.event_buses.get("default") if backend is not None else None
    return bus.rules.get(name) if bus is not None else None


def scheduled_rules() -> list[Any]:
    """Every rule with a ScheduleExpression that this process's moto holds (on default buses)."""
    from moto.events.models import events_backends

    found: list[Any] = []
    for by_region in list(dict.values(events_backends)):
        for backend in list(dict.values(by_region)):
            bus = backend.event_buses.get("default")
            if bus is not None:
                found.extend(rule for rule in list(bus.rules.values()) if rule.scheduled_expression)
    return found


def send_with_moto(rule: Any, target: dict[str, Any], moto_event: dict[str, Any]) -> None:
    """Delivers `moto_event` to one target the way moto does (SQS, CloudWatch Logs, other buses...),
    whatever the rule's pattern says; raises what moto raises (NotImplementedError for kinds it lacks)."""
    from moto.events import models

    send: Any = models.Rule.send_to_targets
    original = getattr(send, "__wrapped__", send)
    original(_OneTarget(rule, target, match_all=True), copy.deepcopy(moto_event))

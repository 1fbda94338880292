"""The adapter that runs moto's Lambda functions in batchemu's Lambda containers, and the one place batchemu
changes moto's Lambda. It may import moto (lazily), the standard library, lambda_async, moto_hooks, moto_imports
and runners.lambda_container.

Hook points (tested with moto 5.2.1 and 5.2.5, whose code there is the same; any moto 5.x with them is accepted, other versions are tried with a
warning; when one is missing a warning is logged and moto's own code runs, as before):
- `moto.awslambda.models.LambdaFunction.invoke(self, body, request_headers, response_headers)`, which
  every invocation reaches: the Invoke API (and so Step Functions' and EventBridge's calls through the
  endpoint), InvokeAsync, and SQS/SNS/Kinesis deliveries. RequestResponse runs the function and answers
  with its result, `X-Amz-Function-Error: Unhandled` when it failed (moto says "Handled" for any non-zero
  exit) and the last 4 KB of its log as LogResult; Event queues the run and answers at once (202), as AWS
  does, and a function error is retried and the result sent to the function's destinations as AWS does
  (lambda_async: retries wait on the emulator's clock); DryRun runs nothing.
- `moto.s3.notifications._invoke_awslambda(account_id, event_body, fn_arn, region_name)`, which moto calls
  inside PutObject for a matching LambdaFunctionConfiguration: the run is queued instead, as an Event
  invocation (AWS invokes asynchronously, with the same retries and destinations), so a slow or failing function never slows or fails the upload, and the record is
  completed to S3's documented shape.

Every run writes its log to CloudWatch Logs `/aws/lambda/<name>`, stream `YYYY/MM/DD/[version]<id>`, in
this process's moto. moto keeps one store per process, so the runtime is process-wide: the newest live one
(the emulator that served last) runs every function; with none, moto's own code runs.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import inspect
import json
import logging
import secrets
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchemu.integrations import lambda_async
from batchemu.integrations.moto_hooks import Registry, hook_point_missing, moto_version
from batchemu.integrations.moto_imports import after_import
from batchemu.runners.lambda_container import Invocation, LambdaContainers, Outcome

log = logging.getLogger("batchemu.lambda")

LOG_RESULT_BYTES = 4096

_runtimes: Registry[LambdaContainers] = Registry()
_async: weakref.WeakKeyDictionary[LambdaContainers, AsyncHooks] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class AsyncHooks:
    """What asynchronous invocations need of the emulator: its clock, a way to run a retry later on it, and
    a sender of invocation records to a destination ARN (SQS, SNS, Lambda, EventBridge bus)."""

    now: Callable[[], float]
    later: Callable[[float, Callable[[], None]], object]
    deliver: Callable[[str, dict[str, Any], bool], None]


_lock = threading.Lock()
_installed: bool | None = None


def connect(endpoint: str, secret: str, network: str, hooks: AsyncHooks | None = None) -> LambdaContainers:
    """A runtime for this server's functions, in use from now on (until disconnect); without `hooks`,
    asynchronous invocations run once and go nowhere after."""
    runtime = LambdaContainers(endpoint, secret, network)
    _runtimes.add(runtime)
    if hooks is not None:
        _async[runtime] = hooks
    # Hooked once moto's Lambda or S3 (whose notifications invoke functions) is imported.
    after_import(("moto.awslambda", "moto.s3"), _install_locked)
    return runtime


def _install_locked() -> None:
    with _lock:
        _install()


def disconnect(runtime: LambdaContainers) -> None:
    _runtimes.remove(runtime)
    runtime.close()


def current_runtime() -> LambdaContainers | None:
    """The runtime in use: the newest live one."""
    return _runtimes.newest()


def _install() -> bool:
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    if moto_version("Lambda functions") is None:
        return False
    from moto.awslambda import models
    from moto.s3 import notifications

    invoke = getattr(getattr(models, "LambdaFunction", None), "invoke", None)
    from_s3 = getattr(notifications, "_invoke_awslambda", None)
    if _parameters(invoke)[:3] != ["self", "body", "request_headers"] or _parameters(from_s3)[:3] != [
        "account_id",
        "event_body",
        "fn_arn",
    ]:
        hook_point_missing(
            "Lambda functions run moto's own way (images from public registries)",
            "LambdaFunction.invoke / s3.notifications._invoke_awslambda as batchemu hooks them",
        )
        return False
    models.LambdaFunction.invoke = _wrap_invoke(invoke)  # type: ignore[method-assign]
    notifications._invoke_awslambda = _wrap_s3(from_s3)
    _installed = True
    return True


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters) if callable(function) else []


def _wrap_invoke(original: Any) -> Any:
    def invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
        runtime = current_runtime()
        if runtime is None:
            return original(function, body, request_headers, response_headers)  # type: ignore[no-any-return]
        kind = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        invocation = invocation_of(function, _event_text(body))
        response_headers["x-amz-executed-version"] = invocation.version
        if kind == "DryRun":
            return b""
        if kind == "Event":
            invoke_async(runtime, function, invocation)
            return b""
        outcome = runtime.run(invocation)
        save_logs(function, invocation, outcome)
        if outcome.failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        tail = "\n".join(line.message for line in outcome.lines).encode()[-LOG_RESULT_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        return outcome.payload

    invoke.__wrapped__ = original  # type: ignore[attr-defined]
    invoke.__doc__ = "batchemu: runs the function in a Lambda container (integrations/moto_lambda.py)."
    return invoke


def _wrap_s3(original: Any) -> Any:
    def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        runtime = current_runtime()
        if runtime is None:
            original(account_id, event_body, fn_arn, region_name)
            return
        try:
            from moto.awslambda.utils import get_backend

            function = get_backend(account_id, region_name).get_function(fn_arn)
            invoke_async(
                runtime, function, invocation_of(function, json.dumps(s3_event(event_body, account_id)))
            )
        except Exception as error:  # AWS invokes asynchronously: the upload succeeds whatever happens
            log.warning("S3 notification to %s not delivered: %s", fn_arn, error)

    invoke_from_s3.__wrapped__ = original  # type: ignore[attr-defined]
    return invoke_from_s3


def invoke_async(
    runtime: LambdaContainers,
    function: Any,
    invocation: Invocation,
    attempts: int = 0,
    since: float | None = None,
) -> None:
    """Runs an asynchronous invocation; a function error runs it again later, and the last run's result goes
    to the destination its event invoke configuration names."""
    hooks = _async.get(runtime)
    since = since if since is not None else hooks.now() if hooks is not None else 0.0
    config = lambda_async.AsyncConfig.of(_event_invoke_config(function))

    def done(ran: Invocation, outcome: Outcome) -> None:
        save_logs(function, ran, outcome)
        if hooks is None:
            return
        runs, condition = attempts + 1, lambda_async.SUCCESS
        if outcome.failed:
            verdict = lambda_async.after_failure(config, runs, hooks.now() - since)
            if not isinstance(verdict, str):
                again = dataclasses.replace(invocation, log_stream=_log_stream(invocation.version))
                hooks.later(verdict, lambda: invoke_async(runtime, function, again, runs, since))
                return
            condition = verdict
        destination = config.on_failure if outcome.failed else config.on_success
        if destination:
            record = lambda_async.invocation_record(
                invocation.function_arn,
                invocation.version,
                invocation.request_id,
                condition,
                runs,
                invocation.event,
                outcome.payload,
                outcome.failed,
                hooks.now(),
            )
            hooks.deliver(destination, record, not outcome.failed)

    runtime.submit(invocation, done)


def _event_invoke_config(function: Any) -> dict[str, Any] | None:
    """moto's stored PutFunctionEventInvokeConfig of the function ($LATEST's serves its versions)."""
    configs = getattr(function, "event_invoke_config", None) or []
    return dict(getattr(configs[0], "config", None) or {}) if configs else None


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def _event_text(body: Any) -> str:
    """The payload as JSON text; an empty one is `{}`. Not JSON: Lambda's InvalidRequestContentException."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    if not text.strip():
        return "{}"
    try:
        json.loads(text)
    except ValueError as error:
        from moto.awslambda.exceptions import LambdaClientError

        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None
    return text


def invocation_of(function: Any, event: str) -> Invocation:
    """moto's function (a version or $LATEST) and a payload as one Invocation."""
    version = str(getattr(function, "version", "$LATEST"))
    return Invocation(
        function_name=function.function_name,
        function_arn=function.function_arn,
        account=function.account_id,
        region=function.region,
        runtime=str(function.run_time or ""),
        handler=str(function.handler or ""),
        code=bytes(getattr(function, "code_bytes", b"") or b""),
        event=event,
        request_id=str(uuid.uuid4()),
        log_stream=_log_stream(version),
        timeout_seconds=float(function.timeout or 3),
        memory_mib=int(function.memory_size or 128),
        version=version,
        environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
        layers=tuple(_layer_zips(function)),
    )


def _log_stream(version: str) -> str:
    """A new execution environment's stream: `YYYY/MM/DD/[version]<32 hex>`."""
    return f"{datetime.datetime.now(datetime.UTC):%Y/%m/%d}/[{version}]{secrets.token_hex(16)}"


def _layer_zips(function: Any) -> list[bytes]:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[function.account_id][function.region]
    zips = []
    for layer in getattr(function, "layers", None) or []:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is not None and getattr(version, "code_bytes", None):
            zips.append(bytes(version.code_bytes))
    return zips


def save_logs(function: Any, invocation: Invocation, outcome: Outcome) -> None:
    """The run's lines into /aws/lambda/<name> (created when missing), one stream per run."""
    try:
        logs = function.logs_backend
        group = f"/aws/lambda/{invocation.function_name}"
        logs.ensure_log_group(group)
        logs.create_log_stream(group, invocation.log_stream)
        lines = sorted(outcome.lines, key=lambda line: line.timestamp_ms)
        events = [{"timestamp": line.timestamp_ms, "message": line.message} for line in lines]
        if events:
            logs.put_log_events(group, invocation.log_stream, events)
    except Exception as error:
        log.warning("Lambda function %s: could not write its log: %s", invocation.function_name, error)
    if outcome.failed:
        log.info("Lambda function %s failed: %s", invocation.function_name, outcome.payload[:500].decode())


def s3_event(moto_event: dict[str, Any], account_id: str) -> dict[str, Any]:
    """moto's S3 notification completed to the documented record shape (event structure version 2.1):
    ISO eventTime with milliseconds and Z, userIdentity, requestParameters, responseElements, the bucket's
    ownerIdentity and the object's sequencer."""
    event = json.loads(json.dumps(moto_event))
    for record in event.get("Records", []):
        stamp = str(record.get("eventTime", ""))
        try:
            moment = datetime.datetime.fromisoformat(stamp.rstrip("Z"))
            record["eventTime"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        except ValueError:
            pass
        record.setdefault("userIdentity", {"principalId": f"AWS:{account_id}"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        request_id = secrets.token_hex(8).upper()
        record.setdefault("responseElements", {"x-amz-request-id": request_id, "x-amz-id-2": request_id})
        s3 = record.get("s3", {})
        s3.get("bucket", {}).setdefault("ownerIdentity", {"principalId": account_id})
        s3.get("object", {}).setdefault("sequencer", f"{secrets.randbits(64):016X}")
    return event

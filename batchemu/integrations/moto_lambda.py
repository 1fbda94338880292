"""The adapter that runs moto's Lambda functions in batchemu's Lambda containers, and the one place batchemu
changes moto's Lambda. It may import moto (lazily), the standard library and runners.lambda_container.

Hook points (tested with moto 5.2.1 and 5.2.5, whose code there is the same; any moto 5.x with them is accepted, other versions are tried with a
warning; when one is missing a warning is logged and moto's own code runs, as before):
- `moto.awslambda.models.LambdaFunction.invoke(self, body, request_headers, response_headers)`, which
  every invocation reaches: the Invoke API (and so Step Functions' and EventBridge's calls through the
  endpoint), InvokeAsync, and SQS/SNS/Kinesis deliveries. RequestResponse runs the function and answers
  with its result, `X-Amz-Function-Error: Unhandled` when it failed (moto says "Handled" for any non-zero
  exit) and the last 4 KB of its log as LogResult; Event queues the run and answers at once (202), as AWS
  does; DryRun runs nothing.
- `moto.s3.notifications._invoke_awslambda(account_id, event_body, fn_arn, region_name)`, which moto calls
  inside PutObject for a matching LambdaFunctionConfiguration: the run is queued instead (AWS invokes
  asynchronously), so a slow or failing function never slows or fails the upload, and the record is
  completed to S3's documented shape.

Every run writes its log to CloudWatch Logs `/aws/lambda/<name>`, stream `YYYY/MM/DD/[version]<id>`, in
this process's moto. moto keeps one store per process, so the runtime is process-wide: the newest live one
(the emulator that served last) runs every function; with none, moto's own code runs.
"""

from __future__ import annotations

import base64
import datetime
import inspect
import json
import logging
import secrets
import threading
import uuid
from typing import Any

from batchemu.integrations.moto_hooks import Registry, hook_point_missing, moto_version
from batchemu.integrations.moto_imports import after_import
from batchemu.runners.lambda_container import Invocation, LambdaContainers, Outcome

log = logging.getLogger("batchemu.lambda")

LOG_RESULT_BYTES = 4096

_runtimes: Registry[LambdaContainers] = Registry()
_lock = threading.Lock()
_installed: bool | None = None


def connect(endpoint: str, secret: str, network: str) -> LambdaContainers:
    """A runtime for this server's functions, in use from now on (until disconnect)."""
    runtime = LambdaContainers(endpoint, secret, network)
    _runtimes.add(runtime)
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
            runtime.submit(invocation, lambda done, outcome: save_logs(function, done, outcome))
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
            invocation = invocation_of(function, json.dumps(s3_event(event_body, account_id)))
            runtime.submit(invocation, lambda done, outcome: save_logs(function, done, outcome))
        except Exception as error:  # AWS invokes asynchronously: the upload succeeds whatever happens
            log.warning("S3 notification to %s not delivered: %s", fn_arn, error)

    invoke_from_s3.__wrapped__ = original  # type: ignore[attr-defined]
    return invoke_from_s3


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
    now = datetime.datetime.now(datetime.UTC)
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
        log_stream=f"{now:%Y/%m/%d}/[{version}]{secrets.token_hex(16)}",
        timeout_seconds=float(function.timeout or 3),
        memory_mib=int(function.memory_size or 128),
        version=version,
        environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
        layers=tuple(_layer_zips(function)),
    )


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

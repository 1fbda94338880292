"""The entrypoint of batchemu-test/lambda-python: runs one invocation of a Python Lambda handler the way
moto's Docker invocation expects (`docker run IMAGE HANDLER EVENT_JSON`, code in /var/task, layers in
/opt), printing the handler's JSON result, or Lambda's error object, as the last line of stdout.

Runs inside the container with the image's python3 and the standard library (plus the handler's imports).
The exit status is 0 when the handler returned, 1 when the invocation failed.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
import uuid
from typing import Any


class LambdaContext:
    """The `context` argument of a Python handler (the documented attributes and method)."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("_BATCHEMU_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


STARTED = time.monotonic()


def finish(request_id: str, result_text: str, status: int) -> None:
    """Ends the invocation: END and REPORT lines, then the result as the last line of stdout (moto reads
    it so). os._exit: threads the handler left behind do not keep the invocation alive."""
    report(request_id)
    sys.stderr.flush()  # the result is the last line of the combined output too
    sys.stdout.write("\n" + result_text + "\n")
    sys.stdout.flush()
    os._exit(status)


def fail(
    request_id: str, error_type: str, message: str, stack: list[str] | None = None, logged: bool = False
) -> None:
    if not logged:
        print(f"[ERROR] {error_type}: {message}", flush=True)
    error = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }
    finish(request_id, json.dumps(error), 1)


def report(request_id: str) -> None:
    duration = (time.monotonic() - STARTED) * 1000
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    print(f"END RequestId: {request_id}", flush=True)
    print(
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
        f"\tMemory Size: {memory} MB\tMax Memory Used: {used} MB",
        flush=True,
    )


def load_handler(request_id: str, handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        fail(
            request_id,
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack",
        )
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    sys.path[:0] = ["/var/task", "/opt/python", f"/opt/python/lib/python{version}/site-packages"]
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        fail(request_id, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}")
    except Exception as error:
        stack = traceback.format_list(traceback.extract_tb(error.__traceback__))
        kind = "Runtime.UserCodeSyntaxError" if isinstance(error, SyntaxError) else type(error).__name__
        fail(request_id, kind, str(error), stack)
    function = getattr(module, function_name, None)
    if function is None:
        fail(
            request_id,
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function


def arm_timeout(request_id: str, seconds: float) -> None:
    """Lambda stops a handler that runs past its Timeout, whatever it is doing: so does this thread."""

    def expire() -> None:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = f"Task timed out after {seconds:.2f} seconds"
        print(f"{now} {request_id} {message}", flush=True)
        error = {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}
        finish(request_id, json.dumps(error), 1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def main(argv: list[str]) -> None:
    handler_name = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    event = json.loads(argv[2]) if len(argv) > 2 else {}
    request_id = os.environ.get("_BATCHEMU_REQUEST_ID") or str(uuid.uuid4())
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    print(f"START RequestId: {request_id} Version: {version}", flush=True)
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
    handler = load_handler(request_id, handler_name)
    arm_timeout(request_id, timeout)  # after the import: Lambda's Timeout counts the handler, not the init
    global STARTED
    STARTED = time.monotonic()  # REPORT's Duration is the handler's, as Lambda's is
    context = LambdaContext(request_id, STARTED + timeout)
    try:
        result = handler(event, context)
    except Exception as error:
        stack = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
        print(f"[ERROR] {type(error).__name__}: {error}", flush=True)
        print(
            "".join(traceback.format_exception(error, value=error, tb=error.__traceback__.tb_next)),
            flush=True,
        )
        fail(request_id, type(error).__name__, str(error), stack, logged=True)
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as error:
        fail(request_id, "Runtime.MarshalError", f"Unable to marshal response: {error}")
    finish(request_id, text, 0)


if __name__ == "__main__":
    main(sys.argv)
